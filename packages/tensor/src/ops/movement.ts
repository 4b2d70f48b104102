import type { View } from '../backend.js';
import type { Shape } from '../dtype.js';
import { inputLeaf } from '../expr.js';
import { axisOf, checkShape, contiguousStrides, shapeString, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { backendOf, broadcastView, checkTensor, empty, isContiguous } from './core.js';
import { contiguous } from './elementwise.js';

/** A new tensor handle on `x`'s storage with another shape/strides/offset (no copy). */
function view(x: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  return new Tensor(x.backend, x.storage, shape, x.dtype, strides, offset);
}

/**
 * The same elements in another shape (row-major order). One entry may be -1 (inferred). A view
 * when `x` is contiguous, else a copy.
 *
 * @example
 * ```ts
 * reshape(arange(6), [2, -1]).shape;   // [2, 3]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'x', x);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= -1)) {
    throw new Error(`reshape: shape must be a list of integers (one may be -1), got ${JSON.stringify(shape)}`);
  }
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`reshape: only one dimension may be -1, got ${shapeString(shape)}`);
  let target = [...shape];
  if (unknown === 1) {
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || x.size % known !== 0)
      throw new Error(
        `reshape: cannot reshape ${shapeString(x.shape)} (${x.size} elements) into ${shapeString(shape)}`,
      );
    target = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  if (sizeOf(target) !== x.size) {
    throw new Error(
      `reshape: cannot reshape ${shapeString(x.shape)} (${x.size} elements) into ${shapeString(shape)} ` +
        `(${sizeOf(target)} elements)`,
    );
  }
  // a contiguous x is viewed directly (no temporary handle, which cost a FinalizationRegistry
  // registration and removal per reshape); anything else is copied first
  const c = isContiguous(x) ? x : contiguous(x);
  const out = view(c, Object.freeze(target), contiguousStrides(target), c.offset);
  if (c.offset === 0) out.hostValues = x.hostValues;
  if (c !== x) c.dispose();
  return out;
}

/** Reorders axes: out.shape[i] = x.shape[perm[i]]. A view. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  checkTensor('permute', 'x', x);
  if (!Array.isArray(perm))
    throw new Error(`permute: perm must be a list of axes, got ${JSON.stringify(perm)} for ${shapeString(x.shape)}`);
  const p = perm.map((a) => axisOf('permute', a, x.shape));
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new Error(
      `permute: perm ${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of ${shapeString(x.shape)}`,
    );
  }
  return view(
    x,
    p.map((a) => x.shape[a]),
    p.map((a) => x.strides[a]),
    x.offset,
  );
}

/**
 * Permutes axes; with no `perm`, reverses them (NumPy's transpose). A view.
 *
 * @example
 * ```ts
 * const x = zeros([5, 3, 8]);        // [T, B, I]
 * transpose(x).shape;                // [8, 3, 5]
 * transpose(x, [1, 0, 2]).shape;     // [3, 5, 8]: batch first
 * ```
 */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  checkTensor('transpose', 'x', x);
  return permute(x, perm ?? x.shape.map((_, i) => x.rank - 1 - i));
}

/**
 * The block starting at `begin` of extent `size` (-1: to the end of that axis). A view.
 * Like tf.slice; negative `begin` counts from the end.
 *
 * @example
 * ```ts
 * const gates = tensor([[1, 2, 3, 4, 5, 6]]);          // [B = 1, 3H = 6]
 * await slice(gates, [0, 2], [1, 2]).data();           // Float32Array [3, 4]: the second gate
 * await slice(gates, [0, -2], [-1, -1]).data();        // Float32Array [5, 6]
 * ```
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  checkTensor('slice', 'x', x);
  if (!Array.isArray(begin) || begin.length > x.rank || !allIntegers(begin)) {
    throw new Error(
      `slice: begin ${JSON.stringify(begin)} must be a list of at most ${x.rank} integers for a tensor ` +
        `${shapeString(x.shape)}`,
    );
  }
  if (size !== undefined && (!Array.isArray(size) || size.length !== begin.length || !allIntegers(size, -1))) {
    throw new Error(`slice: size ${JSON.stringify(size)} must be a list of ${begin.length} integers >= -1`);
  }
  const shape = [...x.shape];
  let offset = x.offset;
  for (let i = 0; i < begin.length; i++) {
    const b0 = begin[i] as number;
    const dim = x.shape[i] as number;
    const b = b0 < 0 ? b0 + dim : b0;
    const s = size === undefined || size[i] === -1 ? dim - b : (size[i] as number);
    if (b < 0 || b > dim || b + s > dim) {
      throw new Error(
        `slice: begin ${JSON.stringify(begin)} with size ${JSON.stringify(size ?? [])} is out of bounds for ` +
          `${shapeString(x.shape)} (axis ${i})`,
      );
    }
    shape[i] = s;
    offset += b * (x.strides[i] as number);
  }
  return view(x, Object.freeze(shape), x.strides, offset);
}

/** Whether every entry of `list` is an integer of at least `min`. */
function allIntegers(list: readonly unknown[], min = Number.NEGATIVE_INFINITY): boolean {
  for (const v of list) if (!Number.isInteger(v) || (v as number) < min) return false;
  return true;
}

/** `x` broadcast to `shape` (stride 0 along repeated axes). A view. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('broadcastTo', 'x', x);
  checkShape('broadcastTo', 'shape', shape);
  const off = shape.length - x.rank;
  const ok = off >= 0 && x.shape.every((d, i) => d === shape[i + off] || d === 1);
  if (!ok) throw new Error(`broadcastTo: cannot broadcast ${shapeString(x.shape)} to ${shapeString(shape)}`);
  const v = broadcastView(x, shape);
  return view(x, shape, v.strides, x.offset);
}

/** Inserts a size-1 axis at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor('unsqueeze', 'x', x);
  const a = axisOf('unsqueeze', axis, x.shape, 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, a < x.rank ? x.strides[a] * x.shape[a] : 1);
  return view(x, shape, strides, x.offset);
}

/** Removes size-1 axes (all of them, or those listed). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  checkTensor('squeeze', 'x', x);
  const list =
    axes === undefined
      ? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
      : (typeof axes === 'number' ? [axes] : [...axes]).map((a) => axisOf('squeeze', a, x.shape));
  for (const a of list)
    if (x.shape[a] !== 1)
      throw new Error(`squeeze: axis ${a} of ${shapeString(x.shape)} has size ${x.shape[a]}, not 1`);
  const keep = x.shape.map((_, i) => i).filter((i) => !list.includes(i));
  return view(
    x,
    keep.map((i) => x.shape[i]),
    keep.map((i) => x.strides[i]),
    x.offset,
  );
}

/**
 * Joins tensors along an existing axis. All shapes must agree except along `axis`.
 *
 * @example
 * ```ts
 * concat([zeros([2, 3]), ones([2, 1])], 1).shape;   // [2, 4]
 * stack([zeros([3]), ones([3])], 0).shape;          // [2, 3]
 * ```
 */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('concat: needs a non-empty list of tensors');
  xs.forEach((x, i) => {
    checkTensor('concat', `tensors[${i}]`, x);
  });
  const first = xs[0] as Tensor;
  const backend = backendOf('concat', ...xs);
  if (first.rank === 0)
    throw new Error('concat: 0-d tensors have no axis to join along (tensors[0] has shape []); use stack');
  const a = axisOf('concat', axis, first.shape);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as Tensor;
    if (x.rank !== first.rank || x.shape.some((d, j) => j !== a && d !== first.shape[j])) {
      throw new Error(
        `concat: tensors[${i}] has shape ${shapeString(x.shape)}, incompatible with ${shapeString(first.shape)} ` +
          `along axis ${axis}`,
      );
    }
    if (x.dtype !== first.dtype) throw new Error(`concat: tensors[${i}] is ${x.dtype}, tensors[0] is ${first.dtype}`);
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((n, x) => n + (x.shape[a] as number), 0);
  const out = empty(backend, shape, first.dtype, 'concat');
  const copy = inputLeaf(0, first.dtype);
  let at = 0;
  for (const x of xs) {
    // each part is copied into its block of `out`, seen directly (as slice() would give it)
    const part: View = { ...out.view, shape: x.shape, offset: out.offset + at * (out.strides[a] as number) };
    backend.map(copy, [x.view], part);
    at += x.shape[a] as number;
  }
  return out;
}

/** Joins same-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('stack: needs a non-empty list of tensors');
  xs.forEach((x, i) => {
    checkTensor('stack', `tensors[${i}]`, x);
  });
  const first = xs[0] as Tensor;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as Tensor;
    if (x.rank !== first.rank || x.shape.some((d, j) => d !== first.shape[j])) {
      throw new Error(
        `stack: tensors[${i}] has shape ${shapeString(x.shape)}, tensors[0] has ${shapeString(first.shape)}`,
      );
    }
  }
  const a = axisOf('stack', axis, first.shape, 1);
  const parts = xs.map((x) => unsqueeze(x, a));
  const out = concat(parts, a);
  for (const p of parts) p.dispose();
  return out;
}
