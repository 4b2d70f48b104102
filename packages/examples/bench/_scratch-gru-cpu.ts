import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { engineStats, setBackend, tensor } from '@wgru/tensor';
await setBackend('cpu');
const c = { B: 32, T: 64, I: 64, H: 128, V: 64 };
const embed = new Embedding(c.V, c.I, { seed: 1 });
const gru = new GRU({ inputSize: c.I, hiddenSize: c.H, resetAfter: true, seed: 2 });
const head = new Linear(c.H, c.V, { seed: 3 });
const params = [...embed.parameters(), ...gru.parameters(), ...head.parameters()];
const opt = new Adam(params, { lr: 1e-3 });
const lossFn = new CrossEntropyLoss();
const ids = tensor(Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 7) % c.V), [c.T, c.B], 'int32');
const targets = tensor(Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 13) % c.V), [c.T * c.B], 'int32');
for (let s = 0; s < Number(process.argv[2] ?? 4); s++) {
  const t0 = performance.now();
  const b = engineStats();
  const { output } = gru.forward(embed.forward(ids));
  const loss = lossFn.forward(head.forward(output.reshape([c.T * c.B, c.H])), targets);
  const t1 = performance.now();
  loss.backward();
  const t2 = performance.now();
  opt.step();
  opt.zeroGrad();
  const v = await loss.item();
  loss.dispose();
  const t3 = performance.now();
  console.log(`step ${s}: fwd ${(t1 - t0).toFixed(0)} bwd ${(t2 - t1).toFixed(0)} opt ${(t3 - t2).toFixed(0)} total ${(t3 - t0).toFixed(0)} ms loss ${v.toFixed(4)} dispatches ${engineStats().dispatches - b.dispatches}`);
}
process.exit(0);
