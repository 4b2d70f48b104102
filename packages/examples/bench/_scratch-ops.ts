import { noGrad, variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { activeBackend, argmax, setBackend, tensor, tidy, zeros } from '@wgru/tensor';
await setBackend('webgpu');
const counts = new Map<string, number>();
const eng = (activeBackend() as unknown as { engine: { record: (c: { kind: string; op: string }) => void } }).engine;
const orig = eng.record.bind(eng);
eng.record = (c) => { if (c.kind === 'dispatch') counts.set(c.op.slice(0, 60), (counts.get(c.op.slice(0, 60)) ?? 0) + 1); orig(c); };
const c = { B: 32, T: 64, I: 64, H: 128, V: 64 };
const embed = new Embedding(c.V, c.I, { seed: 1 });
const gru = new GRU({ inputSize: c.I, hiddenSize: c.H, resetAfter: true, seed: 2 });
const head = new Linear(c.H, c.V, { seed: 3 });
const params = [...embed.parameters(), ...gru.parameters(), ...head.parameters()];
const opt = new Adam(params, { lr: 1e-3 });
const lossFn = new CrossEntropyLoss();
const ids = tensor(Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 7) % c.V), [c.T, c.B], 'int32');
const targets = tensor(Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 13) % c.V), [c.T * c.B], 'int32');
for (let s = 0; s < 2; s++) {
  counts.clear();
  const { output } = gru.forward(embed.forward(ids));
  const loss = lossFn.forward(head.forward(output.reshape([c.T * c.B, c.H])), targets);
  loss.backward(); opt.step(); opt.zeroGrad();
  await loss.item(); loss.dispose();
}
console.log('training step dispatches by op:', [...counts].sort((a, b) => b[1] - a[1]));
// generation step
const cell = gru.cell(0);
const head2 = new Linear(c.H, c.V, { seed: 3 });
let h = zeros([1, c.H]);
let id = tensor(Int32Array.of(0), [1], 'int32');
for (let s = 0; s < 2; s++) {
  counts.clear();
  const [next, hn] = tidy(() => noGrad(() => { const hh = cell.forward(embed.forward(id), variable(h)); return [argmax(head2.forward(hh).value, 1), hh.value]; }));
  await next.data();
  h = hn; id = next;
}
console.log('generation token dispatches by op:', [...counts]);
process.exit(0);
