import type { GruCellArgs, View } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import type { CpuStorage } from './backend.js';
import { type Block, matmulFloat } from './matmul.js';

const sigmoid = (a: number) => (a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a)));

/** A view's array, first element, and strides (a 1-D view: row stride 0). */
function parts(v: View): { a: TypedArray; o: number; s0: number; s1: number } {
  const s = v.strides;
  const a = (v.storage as CpuStorage).array as TypedArray;
  return v.shape.length === 1 ? { a, o: v.offset, s0: 0, s1: s[0] } : { a, o: v.offset, s0: s[0], s1: s[1] };
}

/**
 * The fused GRU cell on the CPU: the reference for the WGSL kernel.
 *   z = σ(xW_z + hU_z + b_z), r = σ(xW_r + hU_r + b_r),
 *   h̃ = tanh(xW_h + (r ⊙ h) U_h + b_h)            (resetAfter false)
 *   h̃ = tanh(xW_h + b_h + r ⊙ (h U_h + c))         (resetAfter true)
 *   h' = (1 − z) ⊙ h + z ⊙ h̃
 * Every sum is float64, accumulated in order of its index from its first term (b, or 0): h U and
 * (r ⊙ h) U_h for all rows at once through the backend's matmul (which sums that way), x W + b
 * row by row from b.
 */
export function gruCellCpu({ x, W, b, h, U, c, resetAfter, out }: GruCellArgs): void {
  const B = h.shape[0];
  const H = h.shape[1];
  const G = 3 * H;
  const I = W ? x.shape[1] : 0;
  const X = parts(x);
  const Hv = parts(h);
  const Uv = parts(U);
  const Wv = W ? parts(W) : null;
  const bv = b ? parts(b) : null;
  const cv = c ? parts(c) : null;
  const dst = (out.storage as CpuStorage).array;
  const block = (v: { a: TypedArray; o: number; s0: number; s1: number }, offset = v.o): Block => ({
    array: v.a,
    offset,
    rowStride: v.s0,
    colStride: v.s1,
  });
  const scratch = new Float64Array(G);
  // h U: [B, 3H] with resetAfter, else [B, 2H] (z and r; the candidate's term needs r first)
  const huCols = resetAfter ? G : 2 * H;
  const hu = new Float64Array(B * huCols);
  matmulFloat(block(Hv), block(Uv), { array: hu, offset: 0, rowStride: huCols, colStride: 1 }, B, H, huCols, scratch);
  const z = new Float64Array(B * H);
  const r = new Float64Array(B * H);
  const xp = new Float64Array(B * G);
  for (let bi = 0; bi < B; bi++) {
    const xo = bi * G;
    // x W + b, or the given projection
    if (Wv) {
      for (let g = 0; g < G; g++) xp[xo + g] = bv ? bv.a[bv.o + g * bv.s1] : 0;
      for (let i = 0; i < I; i++) {
        const xi = X.a[X.o + bi * X.s0 + i * X.s1];
        const wo = Wv.o + i * Wv.s0;
        for (let g = 0; g < G; g++) xp[xo + g] = xp[xo + g] + xi * Wv.a[wo + g * Wv.s1];
      }
    } else {
      for (let g = 0; g < G; g++) xp[xo + g] = X.a[X.o + bi * X.s0 + g * X.s1];
    }
    for (let j = 0; j < H; j++) {
      z[bi * H + j] = sigmoid(xp[xo + j] + hu[bi * huCols + j]);
      r[bi * H + j] = sigmoid(xp[xo + H + j] + hu[bi * huCols + H + j]);
    }
  }
  const hAt = (bi: number, k: number) => Hv.a[Hv.o + bi * Hv.s0 + k * Hv.s1];
  // The candidate's hidden term: r ⊙ (h U_h + c), or (r ⊙ h) U_h
  const hTerm = new Float64Array(B * H);
  if (resetAfter) {
    for (let bi = 0; bi < B; bi++) {
      for (let j = 0; j < H; j++) {
        const cj = cv ? cv.a[cv.o + j * cv.s1] : 0;
        hTerm[bi * H + j] = r[bi * H + j] * (hu[bi * huCols + 2 * H + j] + cj);
      }
    }
  } else {
    const rh = new Float64Array(B * H);
    for (let bi = 0; bi < B; bi++) for (let k = 0; k < H; k++) rh[bi * H + k] = r[bi * H + k] * hAt(bi, k);
    matmulFloat(
      { array: rh, offset: 0, rowStride: H, colStride: 1 },
      block(Uv, Uv.o + 2 * H * Uv.s1),
      { array: hTerm, offset: 0, rowStride: H, colStride: 1 },
      B,
      H,
      H,
      scratch,
    );
  }
  for (let bi = 0; bi < B; bi++) {
    const oo = out.offset + bi * out.strides[0];
    const os = out.strides[1];
    for (let j = 0; j < H; j++) {
      const cand = Math.tanh(xp[bi * G + 2 * H + j] + hTerm[bi * H + j]);
      const zj = z[bi * H + j];
      dst[oo + j * os] = (1 - zj) * hAt(bi, j) + zj * cand;
    }
  }
}
