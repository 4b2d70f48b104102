/** Composites: ops written with the primitives, whose gradients come from the tape. */
import * as T from '@wgru/tensor';
import { normalizeAxis } from '@wgru/tensor';
import { add, exp, log, mul, sub, sum } from './functions.js';
import { transientConstant } from './lifetimes.js';
import { squeeze } from './movement.js';
import { check, temp } from './record.js';
import { traced } from './trace.js';
import type { Variable } from './variable.js';

export const square = (x: Variable): Variable => mul(x, x);

/**
 * log Σ exp(x) along `axis`, as m + log Σ exp(x - m) with m = max(x) held constant (its
 * gradient cancels exactly), so large logits cannot overflow.
 */
export function logSumExp(x: Variable, axis = -1, keepDims = false): Variable {
  check('logSumExp', 'x', x);
  const a = normalizeAxis('logSumExp', axis, x.rank);
  // Traced as one op: m below is computed beside the tape, and a trace would hold it as a constant.
  return traced(
    'logSumExp',
    [x],
    { axis: a, keepDims },
    () => logSumExpOf(x, a, keepDims),
    (y) => [y],
  );
}

function logSumExpOf(x: Variable, a: number, keepDims: boolean): Variable {
  const mRaw = T.max(x.value, a, true);
  // Rows that are all -Infinity (or +Infinity) keep m = 0, so they give ±Infinity, not NaN.
  const infinite = T.isInf(mRaw);
  const mValue = T.where(infinite, 0, mRaw);
  mRaw.dispose();
  infinite.dispose();
  const shifted = temp(sub(x, transientConstant(mValue.share())));
  const total = temp(sum(temp(exp(shifted)), a, true));
  const out = add(temp(log(total)), transientConstant(mValue));
  // A 0-d x has no axis to remove (axis 0 or -1 name the scalar itself, as in PyTorch).
  return keepDims || x.rank === 0 ? out : squeeze(temp(out), a);
}

/**
 * exp(x - logSumExp(x)) along `axis`: composed from primitives, so its gradient comes from the tape.
 *
 * @example
 * ```ts
 * const p = softmax(variable([[1, 2, 3]]), -1);   // rows sum to 1
 * await p.sum().item();                           // 1 (to float32 rounding)
 * ```
 */
export function softmax(x: Variable, axis = -1): Variable {
  check('softmax', 'x', x);
  const a = normalizeAxis('softmax', axis, x.rank);
  return traced(
    'softmax',
    [x],
    { axis: a },
    () => exp(temp(logSoftmax(x, a))),
    (y) => [y],
  );
}

/**
 * x - logSumExp(x) along `axis`.
 *
 * @example
 * ```ts
 * const logits = variable([[1000, 1001, 1002]]);   // no overflow: logSumExp shifts by the max
 * await logSoftmax(logits, -1).exp().data();       // Float32Array [0.09, 0.245, 0.665] (about)
 * ```
 */
export function logSoftmax(x: Variable, axis = -1): Variable {
  check('logSoftmax', 'x', x);
  const a = normalizeAxis('logSoftmax', axis, x.rank);
  return traced(
    'logSoftmax',
    [x],
    { axis: a },
    () => sub(x, temp(logSumExp(x, a, true))),
    (y) => [y],
  );
}
