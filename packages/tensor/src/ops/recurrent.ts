import { shapeString } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { GRU_CELL_MAX_HIDDEN } from '../webgpu/kernels/gru.js';
import { backendOf, checkTensor, empty } from './core.js';

export interface GruCellInputs {
  /** [B, I] with `W`, or the projection x W + b [B, 3H] without it. */
  x: Tensor;
  /** [I, 3H], gates z | r | h. */
  W?: Tensor | null;
  /** [3H]. */
  b?: Tensor | null;
  /** [B, H]. */
  h: Tensor;
  /** [H, 3H]. */
  U: Tensor;
  /** [H], with resetAfter. */
  c?: Tensor | null;
  resetAfter?: boolean;
}

/**
 * One GRU step as a single fused kernel, for inference and generation (no gradient). The same
 * equations as the composed GRUCell in @wgru/nn, which is its oracle in tests:
 *
 * ```
 * z = σ(x W_z + h U_z + b_z)      r = σ(x W_r + h U_r + b_r)
 * h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)   or, with resetAfter,   tanh(x W_h + b_h + r ⊙ (h U_h + c))
 * h' = (1 − z) ⊙ h + z ⊙ h̃
 * ```
 *
 * @example
 * ```ts
 * const [B, I, H] = [2, 3, 4];
 * const W = randn([I, 3 * H], { seed: 0 });
 * const U = randn([H, 3 * H], { seed: 1 });
 * const h1 = gruCell({ x: randn([B, I], { seed: 2 }), W, h: zeros([B, H]), U });   // [B, H]
 * // or from a projection x W + b computed beforehand for a whole sequence:
 * const h2 = gruCell({ x: matmul(randn([B, I], { seed: 3 }), W), h: h1, U });
 * ```
 */
export function gruCell({ x, W = null, b = null, h, U, c = null, resetAfter = false }: GruCellInputs): Tensor {
  for (const [name, t] of [
    ['x', x],
    ['h', h],
    ['U', U],
  ] as const)
    checkTensor('gruCell', name, t);
  const backend = backendOf('gruCell', x, h, U, W ?? undefined, b ?? undefined, c ?? undefined);
  if (h.rank !== 2) throw new Error(`gruCell: h must be [B, H], got ${shapeString(h.shape)}`);
  const [B, H] = h.shape as [number, number];
  if (H > GRU_CELL_MAX_HIDDEN)
    throw new Error(`gruCell: hidden size ${H} exceeds the fused kernel's limit ${GRU_CELL_MAX_HIDDEN}`);
  const expect = (name: string, t: Tensor | null, shape: number[]) => {
    if (t && (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(
        `gruCell: ${name} must be ${shapeString(shape)} for h ${shapeString(h.shape)}, got ${shapeString(t.shape)}`,
      );
    }
  };
  expect('U', U, [H, 3 * H]);
  if (W) {
    const I = W.shape[0];
    expect('W', W, [I, 3 * H]);
    expect('x', x, [B, I]);
  } else expect('x (the projection x W + b)', x, [B, 3 * H]);
  expect('b', b, [3 * H]);
  expect('c', c, [H]);
  for (const t of [x, h, U, W, b, c])
    if (t && t.dtype === 'int32') throw new Error('gruCell: operands must be float tensors');
  const out = empty(backend, [B, H], h.dtype, 'gruCell');
  backend.gruCell({
    x: x.view,
    W: W?.view ?? null,
    b: W ? (b?.view ?? null) : null,
    h: h.view,
    U: U.view,
    c: c?.view ?? null,
    resetAfter,
    out: out.view,
  });
  return out;
}
