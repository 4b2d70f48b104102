import { variable } from '@wgru/autograd';
import { CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { setBackend, tensor, shutdown } from '@wgru/tensor';
import { Adam } from './lib/pending-nn.js';
const [be, Ts, Bs, Hs] = process.argv.slice(2);
await setBackend(be as 'cpu' | 'webgpu');
const T = Number(Ts), B = Number(Bs), H = Number(Hs), V = 60, E = 32;
const emb = new Embedding(V, E), gru = new GRU({ inputSize: E, hiddenSize: H }), head = new Linear(H, V);
const opt = new Adam([...emb.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 1e-3 });
const ce = new CrossEntropyLoss();
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const idx = tensor(Int32Array.from({ length: T * B }, () => Math.floor(Math.random() * V)), [T, B], 'int32');
  const tgt = tensor(Int32Array.from({ length: T * B }, () => Math.floor(Math.random() * V)), [T * B], 'int32');
  const { output } = gru.forward(emb.forward(idx));
  const loss = ce.forward(head.forward(output.reshape([T * B, H])), tgt);
  const t1 = performance.now();
  loss.backward(); opt.step(); opt.zeroGrad();
  const l = await loss.item();
  console.log(be, T, B, H, 'fwd build', (t1 - t0).toFixed(0), 'total ms', (performance.now() - t0).toFixed(0), l.toFixed(3));
  idx.dispose(); tgt.dispose(); loss.dispose();
}
shutdown(); process.exit(0);
