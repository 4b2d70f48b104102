/**
 * Argument checks shared by the layers: every public `forward` names the op and the argument
 * when it is given the wrong kind of value, instead of failing later with a TypeError.
 * @module
 */
import { Variable } from '@wgru/autograd';
import { shapeString, Tensor } from '@wgru/tensor';

/** A short description of any value for error messages (a Tensor or Variable with its shape). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v instanceof Tensor) return `a Tensor ${shapeString(v.shape)} ${v.dtype}`;
  if (v instanceof Variable) return `a Variable ${shapeString(v.shape)} ${v.dtype}`;
  if (Array.isArray(v)) return `an Array of ${v.length}`;
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Throws unless `x` is a Variable, naming the op, the argument and what came instead. */
export function expectVariable(op: string, arg: string, x: unknown, want = ''): asserts x is Variable {
  if (x instanceof Variable) return;
  const hint = x instanceof Tensor ? ' (wrap a Tensor with variable(t))' : '';
  throw new Error(`${op}: ${arg} must be a Variable${want ? ` ${want}` : ''}, got ${describeValue(x)}${hint}`);
}
