import { matmul, setBackend, uniform, shutdown } from '@wgru/tensor';
import { matmulTuning } from '../../tensor/src/webgpu/kernels/matmul.js';
import { timeSideBySide } from './lib.js';
await setBackend('webgpu');
const shapes = JSON.parse(process.argv[2] ?? '[[32,128,384]]') as [number, number, number][];
const paths = (process.argv[3] ?? 'buffer,texture').split(',') as ('buffer' | 'texture' | 'generic')[];
for (const [m, k, n] of shapes) {
  const a = uniform([m, k]), b = uniform([k, n]);
  const fns = new Map(paths.map((p) => [p, async () => { matmulTuning.path = p; const c = matmul(a, b); await c.data(); c.dispose(); }]));
  const t = await timeSideBySide(fns, { warmup: 2, minRuns: 5, maxRuns: 30, budgetMs: 1500 });
  console.log(`${m}x${k}x${n}`, [...t].map(([p, r]) => `${p} ${r.ms.toFixed(3)}ms ${(2 * m * k * n / r.ms / 1e6).toFixed(2)}GF`).join('  '));
  a.dispose(); b.dispose();
}
shutdown(); process.exit(0);
