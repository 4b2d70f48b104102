import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { memory, setBackend, tensor } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

const V = 16, E = 8, H = 16, B = 4, T = 8, STEPS = Number(process.env.STEPS ?? 2000);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

forEachBackend('memory', (name) => {
  beforeAll(async () => { await setBackend(name); });
  it('bounded', async () => {
    const emb = new Embedding(V, E, { seed: 1 });
    const gru = new GRU({ inputSize: E, hiddenSize: H, seed: 2 });
    const head = new Linear(H, V, { seed: 3 });
    const ce = new CrossEntropyLoss();
    const opt = new Adam([...emb.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 1e-2 });
    const r = rng(7);
    const t0 = performance.now();
    let prev = memory();
    for (let step = 1; step <= STEPS; step++) {
      const xs = Int32Array.from({ length: T * B }, () => Math.floor(r() * V));
      const ys = Int32Array.from({ length: T * B }, () => Math.floor(r() * V));
      const x = tensor(xs, [T, B], 'int32');
      const y = tensor(ys, [T * B], 'int32');
      const { output } = gru.forward(emb.forward(x));
      const logits = head.forward(output.reshape([T * B, H]));
      const loss = ce.forward(logits, y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      if (step % 100 === 0) await loss.item();
      if (step <= 25 || step % 500 === 0) {
        const m = memory();
        console.log(name, step, m.liveTensors - prev.liveTensors, m.bytesInUse - prev.bytesInUse, m);
        prev = m;
      }
    }
    console.log(name, 'ms', performance.now() - t0);
  });
});
