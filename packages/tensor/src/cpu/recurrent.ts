import type { GruCellArgs, View } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import type { CpuStorage } from './backend.js';

const sigmoid = (a: number) => (a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a)));

/** A view's array, first element, and strides (a 1-D view: row stride 0). */
function parts(v: View): { a: TypedArray; o: number; s0: number; s1: number } {
  const s = v.strides;
  const a = (v.storage as CpuStorage).array as TypedArray;
  return v.shape.length === 1 ? { a, o: v.offset, s0: 0, s1: s[0] as number } : { a, o: v.offset, s0: s[0] as number, s1: s[1] as number };
}

/**
 * The fused GRU cell on the CPU, in plain loops: the reference for the WGSL kernel.
 *   z = σ(xW_z + hU_z + b_z), r = σ(xW_r + hU_r + b_r),
 *   h̃ = tanh(xW_h + (r ⊙ h) U_h + b_h)            (resetAfter false)
 *   h̃ = tanh(xW_h + b_h + r ⊙ (h U_h + c))         (resetAfter true)
 *   h' = (1 − z) ⊙ h + z ⊙ h̃
 * Every sum is float64, accumulated in order of its index from its first term (b, or 0); the
 * loops run over whole rows of W and U (k outer, columns inner), so the weights are read in
 * order. A row's results are written after all of its reads of h.
 */
export function gruCellCpu({ x, W, b, h, U, c, resetAfter, out }: GruCellArgs): void {
  const B = h.shape[0] as number;
  const H = h.shape[1] as number;
  const G = 3 * H;
  const I = W ? (x.shape[1] as number) : 0;
  const X = parts(x);
  const Hv = parts(h);
  const Uv = parts(U);
  const Wv = W ? parts(W) : null;
  const bv = b ? parts(b) : null;
  const cv = c ? parts(c) : null;
  const dst = (out.storage as CpuStorage).array;
  const xp = new Float64Array(G);
  // h U for the columns summed over h (all three gates with resetAfter, else z and r)
  const hu = new Float64Array(G);
  const hRow = new Float64Array(H);
  const z = new Float64Array(H);
  const r = new Float64Array(H);
  const cand = new Float64Array(H);
  const huCols = resetAfter ? G : 2 * H;
  for (let bi = 0; bi < B; bi++) {
    for (let k = 0; k < H; k++) hRow[k] = Hv.a[Hv.o + bi * Hv.s0 + k * Hv.s1] as number;
    // x W + b, or the given projection
    if (Wv) {
      for (let g = 0; g < G; g++) xp[g] = bv ? (bv.a[bv.o + g * bv.s1] as number) : 0;
      for (let i = 0; i < I; i++) {
        const xi = X.a[X.o + bi * X.s0 + i * X.s1] as number;
        const wo = Wv.o + i * Wv.s0;
        for (let g = 0; g < G; g++) xp[g] = (xp[g] as number) + xi * (Wv.a[wo + g * Wv.s1] as number);
      }
    } else {
      for (let g = 0; g < G; g++) xp[g] = X.a[X.o + bi * X.s0 + g * X.s1] as number;
    }
    hu.fill(0);
    for (let k = 0; k < H; k++) {
      const hk = hRow[k] as number;
      const uo = Uv.o + k * Uv.s0;
      for (let col = 0; col < huCols; col++) hu[col] = (hu[col] as number) + hk * (Uv.a[uo + col * Uv.s1] as number);
    }
    for (let j = 0; j < H; j++) {
      z[j] = sigmoid((xp[j] as number) + (hu[j] as number));
      r[j] = sigmoid((xp[H + j] as number) + (hu[H + j] as number));
    }
    if (resetAfter) {
      for (let j = 0; j < H; j++) {
        const cj = cv ? (cv.a[cv.o + j * cv.s1] as number) : 0;
        cand[j] = Math.tanh((xp[2 * H + j] as number) + (r[j] as number) * ((hu[2 * H + j] as number) + cj));
      }
    } else {
      // (r ⊙ h) U_h, summed in order of k
      cand.fill(0);
      for (let k = 0; k < H; k++) {
        const rh = (r[k] as number) * (hRow[k] as number);
        const uo = Uv.o + k * Uv.s0 + 2 * H * Uv.s1;
        for (let j = 0; j < H; j++) cand[j] = (cand[j] as number) + rh * (Uv.a[uo + j * Uv.s1] as number);
      }
      for (let j = 0; j < H; j++) cand[j] = Math.tanh((xp[2 * H + j] as number) + (cand[j] as number));
    }
    const oo = out.offset + bi * (out.strides[0] as number);
    const os = out.strides[1] as number;
    for (let j = 0; j < H; j++) {
      const zj = z[j] as number;
      dst[oo + j * os] = (1 - zj) * (hRow[j] as number) + zj * (cand[j] as number);
    }
  }
}
