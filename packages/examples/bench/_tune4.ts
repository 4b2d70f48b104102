import { matmul, setBackend, uniform, shutdown } from '@wgru/tensor';
import { timeSideBySide } from './lib.js';
await setBackend('webgpu');
const shapes: [number, number, number][] = [[1, 1, 1], [1, 256, 768], [32, 128, 384]];
const fns = new Map<string, () => Promise<void>>();
for (const [m, k, n] of shapes) {
  const a = uniform([m, k]), b = uniform([k, n]);
  await a.data(); await b.data();
  fns.set(`${m}x${k}x${n} x1`, async () => { const c = matmul(a, b); await c.data(); c.dispose(); });
  fns.set(`${m}x${k}x${n} x20`, async () => { const cs = []; for (let i = 0; i < 20; i++) cs.push(matmul(a, b)); await cs[19]!.data(); for (const c of cs) c.dispose(); });
}
const t = await timeSideBySide(fns, { warmup: 2, minRuns: 10, maxRuns: 40, budgetMs: 4000 });
for (const [k, r] of t) console.log(k, r.ms.toFixed(3), 'ms');
shutdown(); process.exit(0);
