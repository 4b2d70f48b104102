import { matmul, setBackend, uniform, shutdown, add } from '@wgru/tensor';
import { timeSideBySide } from './lib.js';
await setBackend('webgpu');
const n = 1024;
const a = uniform([n, n]), b = uniform([n, n]);
const c0 = matmul(a, b); await c0.data();
const fns = new Map<string, () => Promise<void>>([
  ['matmul+read', async () => { const c = matmul(a, b); await c.data(); c.dispose(); }],
  ['read only', async () => { await c0.data(); }],
  ['2 matmuls+read', async () => { const c = matmul(a, b); const d = matmul(b, a); const e = add(c, d); await e.data(); c.dispose(); d.dispose(); e.dispose(); }],
]);
const t = await timeSideBySide(fns, { warmup: 1, minRuns: 5, maxRuns: 15, budgetMs: 3000 });
for (const [k, r] of t) console.log(k, r.ms.toFixed(1), 'ms', r.runs.map((x) => x.toFixed(0)).join(' '));
shutdown(); process.exit(0);
