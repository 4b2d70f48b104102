/**
 * The plain matrix product the SIMD one must agree with: the same `Sgemm` contract, three loops,
 * float32 sums in order. It reads the operands through their strides exactly as the packed kernels'
 * packing does, so a disagreement points at packing, blocking or the micro-kernel.
 */
import type { Sgemm } from './index.js';

/**
 * @example
 * ```ts
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * const f32 = new Float32Array(memory.buffer);
 * f32.set([1, 2, 3], 0); // A = [[1, 2, 3]]
 * f32.set([1, 1, 1], 4); // B = [[1], [1], [1]] at byte 16
 * plainSgemm(memory)(1, 1, 3, 0, 3, 1, 16, 1, 1, 32, 0);
 * console.log(f32[8]); // 6
 * ```
 */
export function plainSgemm(memory: WebAssembly.Memory): Sgemm {
  return (m, n, k, a, ars, acs, b, brs, bcs, c, bias) => {
    const f = new Float32Array(memory.buffer);
    const [a0, b0, c0, bias0] = [a / 4, b / 4, c / 4, bias / 4];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = bias ? f[bias0 + j] : 0;
        for (let p = 0; p < k; p++) sum = Math.fround(sum + f[a0 + i * ars + p * acs] * f[b0 + p * brs + j * bcs]);
        f[c0 + i * n + j] = sum;
      }
    }
  };
}
