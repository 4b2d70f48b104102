import { matmul, setBackend, tensorOn, cpuBackend, tensor, shutdown, transpose, engineStats } from '@wgru/tensor';
import { matmulTuning } from './src/webgpu/kernels/matmul.js';
await setBackend('webgpu');
function rnd(n: number) { return Float32Array.from({ length: n }, () => Math.random() * 2 - 1); }
async function check(M: number, K: number, N: number, path: 'auto' | 'texture' | 'buffer' | 'generic', tA = false, tB = false) {
  matmulTuning.path = path;
  const a = rnd(M * K), b = rnd(K * N);
  const ga = tA ? transpose(tensor(a, [K, M])) : tensor(a, [M, K]);
  const gb = tB ? transpose(tensor(b, [N, K])) : tensor(b, [K, N]);
  const ca = tA ? transpose(tensorOn(cpuBackend(), Float64Array.from(a), [K, M])) : tensorOn(cpuBackend(), Float64Array.from(a), [M, K]);
  const cb = tB ? transpose(tensorOn(cpuBackend(), Float64Array.from(b), [N, K])) : tensorOn(cpuBackend(), Float64Array.from(b), [K, N]);
  const t0 = performance.now();
  const g = await matmul(ga, gb).data();
  const ms = performance.now() - t0;
  const c = await matmul(ca, cb).data();
  let err = 0; for (let i = 0; i < c.length; i++) err = Math.max(err, Math.abs(g[i]! - c[i]!));
  console.log(path, `${M}x${K}x${N}`, tA ? 'A^T' : '', tB ? 'B^T' : '', 'maxErr', err.toExponential(2), ms.toFixed(1), 'ms', err > 1e-4 * Math.sqrt(K) + 1e-5 ? 'BAD' : 'ok');
}
for (const path of ['buffer', 'generic', 'texture', 'auto'] as const) {
  for (const [M, K, N] of [[1, 1, 1], [3, 5, 7], [8, 8, 8], [17, 33, 9], [64, 64, 64], [1, 256, 768], [32, 128, 384], [130, 66, 131]]) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true]]) await check(M!, K!, N!, path, tA, tB);
  }
}
shutdown(); process.exit(0);
