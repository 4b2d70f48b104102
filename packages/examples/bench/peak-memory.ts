/**
 * Peak device bytes of one GRU language-model training step, at both `pnpm bench` GRU configs
 * (see ./gru-train.bench.ts): forward, loss, backward, Adam step, zeroGrad, with the logits, the
 * GRU's output and hN and the loss still held by the loop (as a PyTorch-style loop holds them).
 * The peak is the highest `bytesInUse` of the backend's allocator seen during a step, after two
 * warm-up steps (Adam's moments and the constant cache exist by then): parameters, optimizer state
 * and whatever the previous step left readable included.
 *
 *   pnpm --filter @wgru/examples peak-memory [webgpu|cpu]
 * @module
 */
import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { activeBackend, engineStats, flush, memory, setBackend, tensor } from '@wgru/tensor';
import { TRAIN_CONFIGS } from './gru-train.bench.js';

/** Watches the allocator's byte counter (the WebGPU pool's, the CPU backend's) for its maximum. */
function peakTracker(): { reset: () => void; peak: () => number } {
  const b = activeBackend() as unknown as Record<string, Record<string, number>>;
  const [owner, key] = b.pool ? [b.pool, 'bytesInUse'] : [b as unknown as Record<string, number>, 'bytes'];
  let current = owner[key];
  let peak = current;
  Object.defineProperty(owner, key, {
    get: () => current,
    set: (v: number) => {
      current = v;
      if (v > peak) peak = v;
    },
  });
  return { reset: () => (peak = current), peak: () => peak };
}

const name = (process.argv[2] ?? 'webgpu') as 'webgpu' | 'cpu';
await setBackend(name);
const tracker = peakTracker();
const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
for (const c of TRAIN_CONFIGS) {
  for (const resetAfter of [true, false]) {
    const embed = new Embedding(c.V, c.I, { seed: 1 });
    const gru = new GRU({ inputSize: c.I, hiddenSize: c.H, resetAfter, seed: 2 });
    const head = new Linear(c.H, c.V, { seed: 3 });
    const opt = new Adam([...embed.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 1e-3 });
    const lossFn = new CrossEntropyLoss();
    const ids = tensor(
      Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 7) % c.V),
      [c.T, c.B],
      'int32',
    );
    const targets = tensor(
      Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 5) % c.V),
      [c.T * c.B],
      'int32',
    );
    let peak = 0;
    let dispatches = 0;
    for (let step = 0; step < 4; step++) {
      flush();
      tracker.reset();
      const before = engineStats().dispatches;
      const { output, hN } = gru.forward(embed.forward(ids));
      const logits = head.forward(output.reshape([c.T * c.B, c.H]));
      const loss = lossFn.forward(logits, targets);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      await loss.item();
      flush();
      dispatches = engineStats().dispatches - before;
      if (step >= 2) peak = Math.max(peak, tracker.peak());
      void hN;
    }
    console.log(
      `${name} ${c.label} resetAfter=${resetAfter}: peak ${mib(peak)} in use during a step; ` +
        `after it ${mib(memory().bytesInUse)} in use, ${mib(memory().bytesPooled)} pooled; ${dispatches} dispatches`,
    );
    opt.dispose();
    for (const m of [embed, gru, head]) m.dispose();
    ids.dispose();
    targets.dispose();
  }
}
