import { variable } from '@wgru/autograd';
import { CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { engineStats, setBackend, shutdown, tensor } from '@wgru/tensor';

await setBackend('webgpu');
const [B, I, H, V] = [8, 16, 32, 16];
const RA = process.env.RA === '1';
async function count(T: number) {
  const emb = new Embedding(V, I, { seed: 1 });
  const gru = new GRU({ inputSize: I, hiddenSize: H, seed: 2, resetAfter: RA });
  const head = new Linear(H, V, { seed: 3 });
  const ids = Int32Array.from({ length: T * B }, (_, i) => (i * 7919) % V);
  const x = tensor(ids, [T, B], 'int32');
  const y = tensor(Int32Array.from(ids, (v) => (v + 1) % V), [T * B], 'int32');
  const e = emb.forward(x);
  await e.data();
  const s0 = engineStats();
  const { output } = gru.forward(e);
  await output.data();
  const s1 = engineStats();
  const loss = new CrossEntropyLoss().forward(head.forward(output.reshape([T * B, H])), y);
  await loss.data();
  const s2 = engineStats();
  loss.backward();
  await gru.parameters()[0]!.grad!.data();
  const s3 = engineStats();
  return { fwd: s1.dispatches - s0.dispatches, bwd: s3.dispatches - s2.dispatches };
}
const a = await count(16);
const b = await count(48);
console.log(`resetAfter=${RA}: per step forward ${(b.fwd - a.fwd) / 32}, backward ${(b.bwd - a.bwd) / 32}`, a, b);
shutdown();
process.exit(0);
