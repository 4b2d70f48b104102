/**
 * The CPU backend's float matmul on one [m, k] @ [k, n] block of strided views. Every output
 * element is the float64 sum Σ_p a[i, p]·b[p, j] accumulated in order p = 0, 1, ..., k − 1 from 0,
 * then stored into the output's array: the same arithmetic whichever loop order below computes
 * it, so results do not depend on the operands' layouts.
 * @module
 */
import type { TypedArray } from '../dtype.js';

/** A strided [rows, cols] block of a host array. */
export interface Block {
  array: TypedArray;
  offset: number;
  /** Elements between consecutive rows. */
  rowStride: number;
  /** Elements between consecutive columns. */
  colStride: number;
}

/**
 * C = A B for A [m, k], B [k, n] (float). `row` is scratch of at least n float64s.
 *
 * - B's rows contiguous (colStride 1, the usual case): row i of C accumulates whole rows of B,
 *   four values of p at a time (each sum still added to in order of p).
 * - B's columns contiguous (a transposed operand such as Wᵀ): a dot product per element, four
 *   columns at a time, both operands read along p.
 * - Anything else: the plain i-p-j loop.
 *
 * No shortcut for a zero a[i, p]: 0·Inf and 0·NaN must still give NaN.
 */
export function matmulFloat(A: Block, B: Block, C: Block, m: number, k: number, n: number, row: Float64Array): void {
  const { array: a, offset: oa, rowStride: sam, colStride: sak } = A;
  const { array: b, offset: ob, rowStride: sbk, colStride: sbn } = B;
  const { array: c, offset: oc, rowStride: som, colStride: son } = C;
  if (sbn === 1) {
    for (let i = 0; i < m; i++) {
      row.fill(0, 0, n);
      const ai = oa + i * sam;
      let p = 0;
      for (; p + 4 <= k; p += 4) {
        const a0 = a[ai + p * sak];
        const a1 = a[ai + (p + 1) * sak];
        const a2 = a[ai + (p + 2) * sak];
        const a3 = a[ai + (p + 3) * sak];
        const b0 = ob + p * sbk;
        const b1 = b0 + sbk;
        const b2 = b1 + sbk;
        const b3 = b2 + sbk;
        for (let j = 0; j < n; j++) {
          row[j] = row[j] + a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
        }
      }
      for (; p < k; p++) {
        const av = a[ai + p * sak];
        const bo = ob + p * sbk;
        for (let j = 0; j < n; j++) row[j] = row[j] + av * b[bo + j];
      }
      const ci = oc + i * som;
      for (let j = 0; j < n; j++) c[ci + j * son] = row[j];
    }
    return;
  }
  if (sbk === 1) {
    for (let i = 0; i < m; i++) {
      const ai = oa + i * sam;
      const ci = oc + i * som;
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const b0 = ob + j * sbn;
        const b1 = b0 + sbn;
        const b2 = b1 + sbn;
        const b3 = b2 + sbn;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let p = 0; p < k; p++) {
          const av = a[ai + p * sak];
          s0 += av * b[b0 + p];
          s1 += av * b[b1 + p];
          s2 += av * b[b2 + p];
          s3 += av * b[b3 + p];
        }
        c[ci + j * son] = s0;
        c[ci + (j + 1) * son] = s1;
        c[ci + (j + 2) * son] = s2;
        c[ci + (j + 3) * son] = s3;
      }
      for (; j < n; j++) {
        const bj = ob + j * sbn;
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ai + p * sak] * b[bj + p];
        c[ci + j * son] = s;
      }
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    row.fill(0, 0, n);
    for (let p = 0; p < k; p++) {
      const av = a[oa + i * sam + p * sak];
      const bo = ob + p * sbk;
      for (let j = 0; j < n; j++) row[j] = row[j] + av * b[bo + j * sbn];
    }
    for (let j = 0; j < n; j++) c[oc + i * som + j * son] = row[j];
  }
}
