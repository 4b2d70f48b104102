import { promote } from '../dtype.js';
import { broadcastShapes, shapeString } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, checkTensor, empty } from './core.js';
import { cast } from './elementwise.js';
import { reshape, unsqueeze } from './movement.js';

/**
 * Matrix product over the last two axes, batched over the leading ones with NumPy broadcasting:
 * [..., m, k] @ [..., k, n] -> [..., m, n]. A 1-D operand is a row (left) or column (right)
 * vector, and its axis is dropped from the result, as in numpy.matmul. Transposed views are read
 * in place, without copies.
 *
 * @example
 * ```ts
 * const a = tensor([[1, 2], [3, 4]]);            // [2, 2]
 * const y = matmul(a, tensor([[1], [10]]));      // [2, 1]
 * await y.data();                                // Float32Array [21, 43]
 * matmul(randn([8, 2, 3]), randn([3, 4])).shape; // [8, 2, 4]: batched, broadcast
 * // With a bias [n]: a @ b + bias, the bias added to every row as the kernel stores its results
 * await matmul(a, tensor([[1], [10]]), tensor([100])).data();   // Float32Array [121, 143]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, bias?: Tensor | null): Tensor {
  checkTensor('matmul', 'a', a);
  checkTensor('matmul', 'b', b);
  if (bias !== undefined && bias !== null) checkTensor('matmul', 'bias', bias);
  const backend = bias ? backendOf('matmul', a, b, bias) : backendOf('matmul', a, b);
  if (a.rank === 0 || b.rank === 0)
    throw new Error(
      `matmul: operands must have at least one axis, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`,
    );
  const A = a.rank === 1 ? unsqueeze(a, 0) : a;
  const B = b.rank === 1 ? unsqueeze(b, 1) : b;
  const k = A.shape[A.rank - 1];
  if (B.shape[B.rank - 2] !== k) {
    throw new Error(
      `matmul: inner dimensions differ: ${shapeString(a.shape)} @ ${shapeString(b.shape)} (${k} vs ` +
        `${B.shape[B.rank - 2]})`,
    );
  }
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', A.shape.slice(0, -2), B.shape.slice(0, -2));
  } catch {
    throw new Error(
      `matmul: the batch axes of ${shapeString(a.shape)} @ ${shapeString(b.shape)} cannot be broadcast together ` +
        `(${shapeString(A.shape.slice(0, -2))} vs ${shapeString(B.shape.slice(0, -2))})`,
    );
  }
  const m = A.shape[A.rank - 2];
  const n = B.shape[B.rank - 1];
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) {
    throw new Error(
      `matmul: bias must be [${n}] (one value per column of ${shapeString(a.shape)} @ ${shapeString(b.shape)}), ` +
        `got ${shapeString(bias.shape)}`,
    );
  }
  const dtype = bias ? promote(promote(A.dtype, B.dtype), bias.dtype) : promote(A.dtype, B.dtype);
  const Ac = A.dtype === dtype ? A : cast(A, dtype);
  const Bc = B.dtype === dtype ? B : cast(B, dtype);
  const out = empty(backend, [...batch, m, n], dtype, 'matmul');
  const bview = (t: Tensor) => {
    const off = batch.length - (t.rank - 2);
    const strides = batch.map((_, i) => (i < off || t.shape[i - off] === 1 ? 0 : t.strides[i - off]));
    return { ...t.view, shape: [...batch, ...t.shape.slice(-2)], strides: [...strides, ...t.strides.slice(-2)] };
  };
  const biasC = bias && bias.dtype !== dtype ? cast(bias, dtype) : bias;
  backend.matmul(bview(Ac), bview(Bc), out.view, biasC?.view ?? null);
  if (biasC && biasC !== bias) biasC.dispose();
  if (Ac !== A && Ac !== a) Ac.dispose();
  if (Bc !== B && Bc !== b) Bc.dispose();
  if (A !== a) A.dispose();
  if (B !== b) B.dispose();
  if (a.rank === 1 || b.rank === 1) {
    const shape = [...batch, ...(a.rank === 1 ? [] : [m]), ...(b.rank === 1 ? [] : [n])];
    const r = reshape(out, shape);
    out.dispose();
    return r;
  }
  return out;
}
