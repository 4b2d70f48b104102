/**
 * argmax and argmin of a Variable: int32 indices, outside the tape (an index has no gradient), as
 * `torch.argmax` reads: with no axis, the index into the flattened values; with an axis, the
 * indices along it, that axis removed unless `keepDims`.
 * @module
 */
import { argmax as argmaxT, argmin as argminT, shapeString } from '@wgru/tensor';
import { Variable } from './variable.js';

function argIndex(op: 'argmax' | 'argmin', x: Variable, axis: number | undefined, keepDims: boolean): Variable {
  if (!(x instanceof Variable)) throw new Error(`${op}: x must be a Variable, got ${typeof x}`);
  if (axis !== undefined && !Number.isInteger(axis))
    throw new Error(`${op}: axis must be an integer or undefined, got ${String(axis)} (x ${shapeString(x.shape)})`);
  if (typeof keepDims !== 'boolean') throw new Error(`${op}: keepDims must be true or false, got ${String(keepDims)}`);
  if (x.size === 0) throw new Error(`${op}: x ${shapeString(x.shape)} is empty; there is no index to return`);
  // The tensor op reads a missing axis as torch does: the flattened values.
  return new Variable((op === 'argmax' ? argmaxT : argminT)(x.value, axis, keepDims), false);
}

/**
 * Index of the largest value (int32, no gradient; the first on ties, NaN counts as largest). With
 * no axis, the index into the flattened values; else along `axis`, removed unless `keepDims`.
 *
 * @example
 * ```ts
 * const x = variable([[0.1, 0.7, 0.2], [0.9, 0.5, 0]]);
 * await argmax(x).item();             // 3 (flattened)
 * await argmax(x, 1).array();         // [1, 0]
 * argmax(x, 1, true).shape;           // [2, 1]
 * ```
 */
export function argmax(x: Variable, axis?: number, keepDims = false): Variable {
  return argIndex('argmax', x, axis, keepDims);
}

/**
 * Index of the smallest value (int32, no gradient; the first on ties, NaN counts as smallest).
 * With no axis, the index into the flattened values; else along `axis`, removed unless `keepDims`.
 *
 * @example
 * ```ts
 * const x = variable([[0.1, 0.7, 0.2], [0.9, 0.5, 0]]);
 * await argmin(x).item();             // 5 (flattened)
 * await argmin(x, -1).array();        // [0, 2]
 * ```
 */
export function argmin(x: Variable, axis?: number, keepDims = false): Variable {
  return argIndex('argmin', x, axis, keepDims);
}
