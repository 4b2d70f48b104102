import { variable } from '@wgru/autograd';
import { CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { engineStats, setBackend, shutdown, tensor, assign, sub, mul, tidy } from '@wgru/tensor';

const [B, T, I, H, V] = (process.env.CFG ?? '32,64,64,128,64').split(',').map(Number) as [number, number, number, number, number];
await setBackend((process.env.BACKEND as 'webgpu' | 'cpu') ?? 'webgpu');
const emb = new Embedding(V, I, { seed: 1 });
const gru = new GRU({ inputSize: I, hiddenSize: H, seed: 2, resetAfter: process.env.RA === '1' });
const head = new Linear(H, V, { seed: 3 });
const params = [...emb.parameters(), ...gru.parameters(), ...head.parameters()];
const ids = Int32Array.from({ length: T * B }, (_, i) => (i * 7919) % V);
const x = tensor(ids, [T, B], 'int32');
const y = tensor(Int32Array.from(ids, (v) => (v + 1) % V), [T * B], 'int32');
const ce = new CrossEntropyLoss();
for (let it = 0; it < 4; it++) {
  const s0 = engineStats();
  const t0 = performance.now();
  const { output } = gru.forward(emb.forward(x));
  const s1 = engineStats();
  const loss = ce.forward(head.forward(output.reshape([T * B, H])), y);
  loss.backward();
  const s2 = engineStats();
  for (const p of params) {
    tidy(() => assign(p.value, sub(p.value, mul(p.grad!, 0.01))));
    p.zeroGrad();
  }
  const l = await loss.item();
  const s3 = engineStats();
  console.log(`step ${it}: ${(performance.now() - t0).toFixed(0)} ms loss ${l.toFixed(4)} fwd-gru dispatches ${s1.dispatches - s0.dispatches} total ${s3.dispatches - s0.dispatches} submits ${s3.submits - s0.submits} uploads ${s3.uploads - s0.uploads}`);
}
shutdown();
process.exit(0);
