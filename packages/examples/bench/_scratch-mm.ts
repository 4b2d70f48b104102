import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { cpuBackend, setBackend, tensor } from '@wgru/tensor';
await setBackend('cpu');
const cfg = process.argv[2] === '2' ? { B: 64, T: 64, I: 128, H: 256, V: 128 } : { B: 32, T: 64, I: 64, H: 128, V: 64 };
const c = cfg;
const be = cpuBackend() as unknown as Record<string, (...a: unknown[]) => void>;
const stats = new Map<string, { n: number; ms: number }>();
for (const name of ['matmul', 'map', 'reduce', 'gather', 'scatterAdd']) {
  const orig = be[name]!.bind(be);
  be[name] = (...a: unknown[]) => {
    const t0 = performance.now();
    orig(...a);
    const dt = performance.now() - t0;
    let key = name;
    if (name === 'matmul') {
      const [x, y] = a as { shape: number[]; strides: number[] }[];
      key = `matmul ${x!.shape.join('x')}[${x!.strides.join(',')}] @ ${y!.shape.join('x')}[${y!.strides.join(',')}]`;
    }
    if (name === 'map') {
      const out = a[2] as { shape: number[] };
      key = `map ${out.shape.join('x')}`;
    }
    const s = stats.get(key) ?? { n: 0, ms: 0 };
    s.n++; s.ms += dt; stats.set(key, s);
  };
}
const embed = new Embedding(c.V, c.I, { seed: 1 });
const gru = new GRU({ inputSize: c.I, hiddenSize: c.H, resetAfter: process.argv[3] !== 'rf', seed: 2 });
const head = new Linear(c.H, c.V, { seed: 3 });
const params = [...embed.parameters(), ...gru.parameters(), ...head.parameters()];
const opt = new Adam(params, { lr: 1e-3 });
const lossFn = new CrossEntropyLoss();
const ids = tensor(Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 7) % c.V), [c.T, c.B], 'int32');
const targets = tensor(Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 13) % c.V), [c.T * c.B], 'int32');
for (let s = 0; s < 2; s++) {
  if (s === 1) stats.clear();
  const t0 = performance.now();
  const { output } = gru.forward(embed.forward(ids));
  const loss = lossFn.forward(head.forward(output.reshape([c.T * c.B, c.H])), targets);
  loss.backward();
  opt.step();
  opt.zeroGrad();
  const v = await loss.item();
  loss.dispose();
  console.log(`step ${s}: ${(performance.now() - t0).toFixed(0)} ms loss ${v}`);
}
const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
let tot = 0;
for (const [, s] of rows) tot += s.ms;
console.log(`total in backend ${tot.toFixed(0)} ms`);
for (const [k, s] of rows.slice(0, 30)) console.log(`${s.ms.toFixed(0).padStart(6)} ms ${String(s.n).padStart(5)}x  ${k}`);
process.exit(0);
