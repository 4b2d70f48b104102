/** Movement ops: the same elements seen in another shape, order or selection. */
import * as T from '@wgru/tensor';
import { normalizeAxis, shapeString, type Tensor } from '@wgru/tensor';
import { transientConstant } from './lifetimes.js';
import { apply, check, temp } from './record.js';
import type { Variable } from './variable.js';

/**
 * The same elements in another shape (row-major; one entry may be -1).
 *
 * @example
 * ```ts
 * const output = variable(randn([5, 3, 16], { seed: 0 }));   // a GRU's [T, B, H] output
 * output.reshape([5 * 3, 16]).shape;                         // [15, 16]: rows for a Linear head
 * ```
 */
export function reshape(x: Variable, shape: readonly number[]): Variable {
  check('reshape', 'x', x);
  return apply('reshape', [x], null, ([v]) => T.reshape(v as Tensor, shape));
}

export function permute(x: Variable, perm: readonly number[]): Variable {
  check('permute', 'x', x);
  const p = perm.map((a) => normalizeAxis('permute', a, x.rank));
  return apply('permute', [x], { perm: p }, ([v]) => T.permute(v as Tensor, p));
}

/** Permutes axes; with no `perm`, reverses them. */
export function transpose(x: Variable, perm?: readonly number[]): Variable {
  check('transpose', 'x', x);
  return permute(x, perm ?? x.shape.map((_, i) => x.rank - 1 - i));
}

/**
 * The block at `begin` of extent `size` (-1: to the end). Its gradient is a sparse block, placed
 * into the input's gradient when that is complete (see ./graph.ts).
 *
 * @example
 * ```ts
 * const gates = variable(randn([2, 12], { seed: 0 }), { requiresGrad: true });   // [B, 3H], H = 4
 * const z = gates.slice([0, 0], [2, 4]).sigmoid();
 * const hTilde = gates.slice([0, 8], [-1, -1]).tanh();                          // to the end
 * z.mul(hTilde).sum().backward();   // gates.grad: columns 4..7 are zero
 * ```
 */
export function slice(x: Variable, begin: readonly number[], size?: readonly number[]): Variable {
  check('slice', 'x', x);
  const out = T.slice(x.value, begin, size); // validates, and resolves -1 and negative begins
  const b = begin.map((v, i) => (v < 0 ? v + x.shape[i] : v));
  const s = [...out.shape.slice(0, begin.length)];
  out.dispose();
  return apply('slice', [x], { begin: b, size: s }, ([v]) => T.slice(v as Tensor, b, s));
}

export function squeeze(x: Variable, axes?: number | readonly number[]): Variable {
  check('squeeze', 'x', x);
  const list = axes === undefined ? undefined : typeof axes === 'number' ? [axes] : axes;
  const probe = T.squeeze(x.value, list);
  const shape = [...probe.shape];
  probe.dispose();
  return reshape(x, shape);
}

export function unsqueeze(x: Variable, axis: number): Variable {
  check('unsqueeze', 'x', x);
  const a = normalizeAxis('unsqueeze', axis, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/**
 * Joins Variables along an existing axis.
 *
 * @example
 * ```ts
 * const a = variable([[1, 2]]);
 * const b = variable([[3, 4], [5, 6]]);
 * concat([a, b], 0).shape;   // [3, 2]
 * ```
 */
export function concat(xs: readonly Variable[], axis: number): Variable {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('concat: needs a non-empty list of Variables');
  for (const [i, x] of xs.entries()) check('concat', `vars[${i}]`, x);
  const a = normalizeAxis('concat', axis, (xs[0] as Variable).rank);
  return apply('concat', [...xs], { axis: a }, (vs) => T.concat(vs, a));
}

/**
 * Joins same-shaped Variables along a new axis.
 *
 * @example
 * ```ts
 * const steps = [variable([1, 2]), variable([3, 4]), variable([5, 6])];   // T = 3 of [2]
 * stack(steps, 0).shape;   // [3, 2]
 * stack(steps, 1).shape;   // [2, 3]
 * ```
 */
export function stack(xs: readonly Variable[], axis = 0): Variable {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('stack: needs a non-empty list of Variables');
  for (const [i, x] of xs.entries()) check('stack', `vars[${i}]`, x);
  const first = xs[0] as Variable;
  xs.forEach((x, i) => {
    if (x.rank !== first.rank || x.shape.some((d: number, j: number) => d !== first.shape[j])) {
      throw new Error(`stack: vars[${i}] has shape ${shapeString(x.shape)}, vars[0] has ${shapeString(first.shape)}`);
    }
  });
  const a = normalizeAxis('stack', axis, first.rank + 1);
  return concat(
    xs.map((x) => temp(unsqueeze(x, a))),
    a,
  );
}

/**
 * numpy.take along `axis` with int32 `indices` (no gradient to the indices). Repeated indices
 * accumulate their gradients.
 *
 * @example
 * ```ts
 * const table = variable([[0, 0], [1, 1], [2, 2]], { requiresGrad: true });
 * gather(table, tensor([2, 2, 0], undefined, 'int32'), 0).sum().backward();
 * await table.grad!.data();   // Float32Array [1, 1, 0, 0, 2, 2]
 * ```
 */
export function gather(x: Variable, indices: Tensor, axis = 0): Variable {
  check('gather', 'x', x);
  if (!(indices instanceof T.Tensor)) throw new Error('gather: indices must be an int32 Tensor');
  const a = normalizeAxis('gather', axis, x.rank);
  return apply('gather', [x, transientConstant(indices.share())], { axis: a }, ([v, i]) =>
    T.gather(v as Tensor, i as Tensor, a),
  );
}
