import { axisOf, shapeString } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, checkTensor, empty } from './core.js';
import type { Expr } from '../expr.js';
import { assign, binaryExpr, elementwise } from './elementwise.js';
import { tensorOn } from './creation.js';
import { reshape } from './movement.js';

/**
 * Checks int32 indices against an axis of size `dim` when their values are known on the host
 * (tensors made from host data remember them), so that a bad index fails here, naming the op,
 * instead of quietly reading 0 on the device. Negative indices count from the end (the backends
 * wrap them, also for indices computed on the device).
 */
function checkIndices(op: string, indices: Tensor, dim: number, what: string): void {
  if (indices.dtype !== 'int32')
    throw new Error(`${op}: indices must be int32, got ${indices.dtype} ${shapeString(indices.shape)}`);
  const host = indices.hostValues;
  if (!host) return;
  for (let i = 0; i < host.length; i++) {
    const j = host[i];
    if (j < -dim || j >= dim)
      throw new Error(`${op}: index ${j} at position ${i} is out of range for ${what} of size ${dim}`);
  }
}

/**
 * numpy.take: elements of `x` picked along `axis` by int32 `indices`; the result's shape is
 * x.shape with that axis replaced by indices.shape. Negative indices count from the end.
 *
 * @example
 * ```ts
 * const table = tensor([[0, 0], [1, 1], [2, 2]]);
 * const rows = gather(table, tensor([2, 0, 2], undefined, 'int32'));   // [3, 2]
 * await rows.data();                                                    // Float32Array [2, 2, 0, 0, 2, 2]
 * ```
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  checkTensor('gather', 'x', x);
  checkTensor('gather', 'indices', indices);
  const backend = backendOf('gather', x, indices);
  const a = axisOf('gather', axis, x.shape);
  checkIndices('gather', indices, x.shape[a], `axis ${a} of x ${shapeString(x.shape)}`);
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  const out = empty(backend, shape, x.dtype, 'gather');
  backend.gather(x.view, indices.view, a, out.view);
  return out;
}

/**
 * The adjoint of gather: a tensor of `shape`, zero except that each slice of `src` is added at
 * the position its index names along `axis` (repeated indices accumulate).
 */
export function scatterAdd(shape: readonly number[], indices: Tensor, src: Tensor, axis = 0): Tensor {
  checkTensor('scatterAdd', 'indices', indices);
  checkTensor('scatterAdd', 'src', src);
  const backend = backendOf('scatterAdd', indices, src);
  const a = axisOf('scatterAdd', axis, shape);
  const expected = [...shape.slice(0, a), ...indices.shape, ...shape.slice(a + 1)];
  if (expected.length !== src.rank || expected.some((d, i) => d !== src.shape[i])) {
    throw new Error(
      `scatterAdd: src ${shapeString(src.shape)} must have shape ${shapeString(expected)} for output ` +
        `${shapeString(shape)} and indices ${shapeString(indices.shape)} along axis ${axis}`,
    );
  }
  checkIndices('scatterAdd', indices, shape[a], `axis ${a} of the output ${shapeString(shape)}`);
  const out = empty(backend, shape, src.dtype, 'scatterAdd');
  assign(out, 0);
  backend.scatterAdd(src.view, indices.view, a, out.view);
  return out;
}

/**
 * float32 one-hot rows: out[..., c] = 1 where indices[...] == c, for c < depth. Negative indices
 * count from the end, as in gather; an index out of range (computed on the device) gives a row of
 * zeros. One fused kernel: wrap the index, then compare it with the class number.
 *
 * @example
 * ```ts
 * await oneHot(tensor([1, 0], undefined, 'int32'), 3).data();   // Float32Array [0, 1, 0, 1, 0, 0]
 * ```
 */
export function oneHot(indices: Tensor, depth: number): Tensor {
  checkTensor('oneHot', 'indices', indices);
  if (!Number.isInteger(depth) || depth <= 0) throw new Error(`oneHot: depth must be a positive integer, got ${depth}`);
  checkIndices('oneHot', indices, depth, 'depth');
  const classes = tensorOn(
    indices.backend,
    Int32Array.from({ length: depth }, (_, i) => i),
    [depth],
    'int32',
  );
  const col = reshape(indices, [...indices.shape, 1]);
  const int = (value: number): Expr => ({ kind: 'const', value, dtype: 'int32' });
  const out = elementwise('oneHot', [col, classes], ([j, c]) => {
    const index = j as Expr;
    const wrapped: Expr = {
      kind: 'where',
      cond: binaryExpr('less', index, int(0)),
      a: binaryExpr('add', index, int(depth)),
      b: index,
      dtype: 'int32',
    };
    return binaryExpr('equal', wrapped, c as Expr);
  });
  col.dispose();
  classes.dispose();
  return out;
}
