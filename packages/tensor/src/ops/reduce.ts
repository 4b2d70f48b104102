import type { ReduceOp, View } from '../backend.js';
import { axesOf, axisOf, shapeString } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, checkTensor, empty } from './core.js';
import { div, exp, log, sub, add, where, isInf } from './elementwise.js';
import { reshape } from './movement.js';

export type Axes = number | readonly number[];

/**
 * Merges neighbouring axes that are both kept or both reduced and laid out contiguously with
 * respect to each other, and drops size-1 axes, so the kernel walks as few, as long, runs as
 * possible. Returns the simplified view and its reduced axes.
 */
function coalesce(x: View, axes: readonly number[]): { view: View; axes: number[] } {
  const dims: Array<{ size: number; stride: number; red: boolean }> = [];
  x.shape.forEach((size, i) => {
    if (size === 1) return;
    const red = axes.includes(i);
    const stride = x.strides[i];
    const last = dims[dims.length - 1];
    if (last && last.red === red && last.stride === stride * size) {
      last.size *= size;
      last.stride = stride;
    } else dims.push({ size, stride, red });
  });
  return {
    view: { ...x, shape: dims.map((d) => d.size), strides: dims.map((d) => d.stride) },
    axes: dims.flatMap((d, i) => (d.red ? [i] : [])),
  };
}

function reduceOp(op: ReduceOp, x: Tensor, axes: Axes | undefined, keepDims: boolean): Tensor {
  checkTensor(op, 'x', x);
  const backend = backendOf(op, x);
  const ax = axesOf(op, axes, x.shape);
  if ((op === 'max' || op === 'min' || op === 'argmax' || op === 'argmin') && ax.some((a) => x.shape[a] === 0)) {
    throw new Error(
      `${op}: cannot reduce over a zero-size axis of a tensor of shape ${shapeString(x.shape)} (axes ` +
        `${JSON.stringify(axes ?? null)}); ${op} of nothing is undefined`,
    );
  }
  const kept = x.shape.filter((_, i) => !ax.includes(i));
  const dtype = op === 'argmax' || op === 'argmin' ? 'int32' : x.dtype;
  const out = empty(backend, kept, dtype, op);
  const c = coalesce(x.view, ax);
  backend.reduce(op, c.view, c.axes, out.view);
  if (!keepDims) return out;
  const shape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const r = reshape(out, shape);
  out.dispose();
  return r;
}

/**
 * Sum over `axes` (all when omitted), NumPy style; `prod`, `max` and `min` work alike.
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * await sum(x).data();             // Float32Array [21]
 * await sum(x, 0).data();          // Float32Array [5, 7, 9]
 * sum(x, -1, true).shape;          // [2, 1]
 * await max(x, 1).data();          // Float32Array [3, 6]
 * ```
 */
export const sum = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('sum', x, axes, keepDims);
export const prod = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('prod', x, axes, keepDims);
export const max = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('max', x, axes, keepDims);
export const min = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('min', x, axes, keepDims);

/**
 * Index of the largest element (int32; the first on ties; NaN counts as largest), as numpy.argmax
 * and torch.argmax: with no axis, into the flattened values; else along `axis`.
 *
 * @example
 * ```ts
 * const x = tensor([[0.1, 0.7, 0.2], [0.5, 0.5, 0]]);
 * await argmax(x, 1).data();   // Int32Array [1, 0]
 * await argmax(x).data();      // Int32Array [1] (of the flattened values; shape [])
 * ```
 */
export function argmax(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argIndex('argmax', x, axis, keepDims);
}

/** Index of the smallest element: {@link argmax}'s reading (NaN counts as smallest). */
export function argmin(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argIndex('argmin', x, axis, keepDims);
}

function argIndex(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepDims: boolean): Tensor {
  checkTensor(op, 'x', x);
  if (axis !== undefined) return reduceOp(op, x, axisOf(op, axis, x.shape), keepDims);
  // No axis: over the flattened values, one index (keepDims: in the input's rank, all ones).
  const flat = reshape(x, [x.size]);
  try {
    const out = reduceOp(op, flat, [0], false);
    if (!keepDims) return out;
    const kept = reshape(
      out,
      x.shape.map(() => 1),
    );
    out.dispose();
    return kept;
  } finally {
    flat.dispose();
  }
}

/** Mean over `axes` (always a float result). */
export function mean(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  checkTensor('mean', 'x', x);
  const ax = axesOf('mean', axes, x.shape);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  const s = sum(x, ax, keepDims);
  const m = div(s, count);
  s.dispose();
  return m;
}

/**
 * log(sum(exp(x))) along `axis`, computed stably as m + log(sum(exp(x - m))) with m the maximum
 * (taken as 0 where it is infinite, so rows of -Infinity give -Infinity, not NaN).
 */
export function logSumExp(x: Tensor, axis: number, keepDims = false): Tensor {
  checkTensor('logSumExp', 'x', x);
  const ax = axisOf('logSumExp', axis, x.shape);
  const m0 = max(x, ax, true);
  const inf = isInf(m0);
  const m = where(inf, 0, m0);
  const shifted = sub(x, m);
  const e = exp(shifted);
  const s = sum(e, ax, true);
  const l = log(s);
  const r = add(l, m);
  for (const t of [m0, inf, m, shifted, e, s, l]) t.dispose();
  if (keepDims) return r;
  const out = reshape(
    r,
    x.shape.filter((_, i) => i !== ax),
  );
  r.dispose();
  return out;
}

/**
 * exp(x) / sum(exp(x)) along `axis`, shifted by the maximum so large logits cannot overflow.
 *
 * @example
 * ```ts
 * await softmax(tensor([[0, 0], [1000, 1000]])).data();   // Float32Array [0.5, 0.5, 0.5, 0.5]
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  checkTensor('softmax', 'x', x);
  const ax = axisOf('softmax', axis, x.shape);
  const m = max(x, ax, true);
  const shifted = sub(x, m);
  const e = exp(shifted);
  const s = sum(e, ax, true);
  const out = div(e, s);
  for (const t of [m, shifted, e, s]) t.dispose();
  return out;
}

/** x - logSumExp(x) along `axis`. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkTensor('logSoftmax', 'x', x);
  const lse = logSumExp(x, axis, true);
  const out = sub(x, lse);
  lse.dispose();
  return out;
}
