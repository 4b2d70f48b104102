import type { GruCellArgs, View } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import type { CpuStorage } from './backend.js';

const sigmoid = (a: number) => (a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a)));

/** Element (i, j) of a 2-D view (or element j of a 1-D one, for i = 0). */
function at(v: View, i: number, j: number): number {
  const a = (v.storage as CpuStorage).array as TypedArray;
  const s = v.strides;
  return (v.shape.length === 1 ? a[v.offset + j * (s[0] as number)] : a[v.offset + i * (s[0] as number) + j * (s[1] as number)]) as number;
}

/**
 * The fused GRU cell on the CPU, in plain loops: the reference for the WGSL kernel.
 *   z = σ(xW_z + hU_z + b_z), r = σ(xW_r + hU_r + b_r),
 *   h̃ = tanh(xW_h + (r ⊙ h) U_h + b_h)            (resetAfter false)
 *   h̃ = tanh(xW_h + b_h + r ⊙ (h U_h + c))         (resetAfter true)
 *   h' = (1 − z) ⊙ h + z ⊙ h̃
 */
export function gruCellCpu({ x, W, b, h, U, c, resetAfter, out }: GruCellArgs): void {
  const B = h.shape[0] as number;
  const H = h.shape[1] as number;
  const I = W ? (x.shape[1] as number) : 0;
  const dst = (out.storage as CpuStorage).array;
  for (let bi = 0; bi < B; bi++) {
    // x W + b, or the given projection
    const xp = new Float64Array(3 * H);
    for (let g = 0; g < 3 * H; g++) {
      let v = b ? at(b, 0, g) : 0;
      if (W) for (let i = 0; i < I; i++) v += at(x, bi, i) * at(W, i, g);
      else v = at(x, bi, g);
      xp[g] = v;
    }
    const hU = (col: number, scale: (k: number) => number) => {
      let s = 0;
      for (let k = 0; k < H; k++) s += scale(k) * at(U, k, col);
      return s;
    };
    const hk = (k: number) => at(h, bi, k);
    const z = new Float64Array(H);
    const r = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      z[j] = sigmoid((xp[j] as number) + hU(j, hk));
      r[j] = sigmoid((xp[H + j] as number) + hU(H + j, hk));
    }
    for (let j = 0; j < H; j++) {
      const cand = resetAfter
        ? Math.tanh((xp[2 * H + j] as number) + (r[j] as number) * (hU(2 * H + j, hk) + (c ? at(c, 0, j) : 0)))
        : Math.tanh((xp[2 * H + j] as number) + hU(2 * H + j, (k) => (r[k] as number) * hk(k)));
      const zj = z[j] as number;
      dst[out.offset + bi * (out.strides[0] as number) + j * (out.strides[1] as number)] = (1 - zj) * hk(j) + zj * cand;
    }
  }
}
