/**
 * How an op on Variables is recorded: `apply` runs the tensor op and remembers the node; the helpers
 * below turn number operands into constants and check arguments. The ops themselves are in
 * ./functions.ts, ./movement.ts and ./composites.ts.
 */
import * as T from '@wgru/tensor';
import type { Backend, DType, Tensor } from '@wgru/tensor';
import { inspectOutput } from './anomaly.js';
import { isGradEnabled, type Node } from './graph.js';
import { noteRecorded, readConstants, transientConstant } from './lifetimes.js';
import { reportOp } from './trace.js';
import type { Primitive, PrimitiveAttrs } from './vjp.js';
import { Variable, type VariableLike } from './variable.js';

/**
 * Records one primitive: computes its value with the raw tensor op and, when gradients are on and
 * some input needs one, remembers the node for backward.
 */
export function apply<P extends Primitive>(
  op: P,
  inputs: Variable[],
  attrs: PrimitiveAttrs[P],
  forward: (xs: Tensor[]) => Tensor,
): Variable {
  let value: Tensor | undefined;
  try {
    value = forward(inputs.map((x) => x.value));
    inspectOutput(op, value); // anomaly mode: a NaN or Infinity in the output
  } catch (e) {
    value?.dispose();
    for (const x of inputs) if (x.holds === 0) x.dispose(); // a bad call leaks no one-use constant
    throw e;
  }
  const requiresGrad = isGradEnabled() && inputs.some((x) => x.requiresGrad);
  const node: Node | null = requiresGrad ? ({ op, inputs, attrs } as Node) : null;
  const out = new Variable(value, requiresGrad, node);
  reportOp(op, inputs, attrs, [out]); // a trace (see ./trace.ts) sees every primitive, before one-use inputs go
  readConstants(inputs, node !== null);
  if (node !== null) noteRecorded(out, node);
  return out;
}

/** Constant scalars, one 0-d tensor per (backend, dtype, value), shared by every use. */
const constants = new Map<string, Tensor>();
const backendIds = new WeakMap<Backend, number>();
let lastBackendId = 0;

export function constant(value: number, like: Variable, op: string): Variable {
  const backend = like.value.backend;
  let id = backendIds.get(backend);
  if (id === undefined) {
    id = ++lastBackendId;
    backendIds.set(backend, id);
  }
  // The number takes the Variable's dtype where it can (as in NumPy: int32 + 1 stays int32).
  const dtype: DType =
    like.dtype === 'float64' ? 'float64' : like.dtype === 'int32' && Number.isInteger(value) ? 'int32' : 'float32';
  const key = `${id}|${dtype}|${Object.is(value, -0) ? '-0' : value}`;
  let t = constants.get(key);
  if (t === undefined || t.disposed) {
    // Made by `op` (so that a lost device or a failed batch is reported as that op's error).
    t = T.keep(T.empty(backend, [], dtype, op)); // outlives any tidy scope
    T.assign(t, value);
    if (constants.size > 512) {
      // Forget the oldest; graphs still holding it keep its storage alive through their handles.
      const [oldKey, old] = constants.entries().next().value as [string, Tensor];
      constants.delete(oldKey);
      old.dispose();
    }
    constants.set(key, t);
  }
  return transientConstant(t.share());
}

/**
 * An intermediate of a composite, read once by the next op. Outside a graph (under noGrad, or when
 * no input requires grad) nothing else would ever free it, so it goes to its reader as a one-use
 * constant, freed as soon as that op has run (or with its node); inside a graph, backward frees it.
 */
export function temp(v: Variable): Variable {
  if (v.node === null) v.holds = 0;
  return v;
}

export function check(op: string, arg: string, x: unknown): asserts x is Variable {
  if (!(x instanceof Variable)) {
    throw new Error(
      `${op}: ${arg} must be a Variable, got ${typeof x === 'number' ? `number ${x}` : x === null ? 'null' : typeof x === 'object' ? ((x as object).constructor?.name ?? 'object') : typeof x}`,
    );
  }
}

export function operands(op: string, a: VariableLike, b: VariableLike): [Variable, Variable] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a Variable`);
  if (typeof a !== 'number') check(op, 'a', a);
  if (typeof b !== 'number') check(op, 'b', b);
  const x = typeof a === 'number' ? constant(a, b as Variable, op) : a;
  const y = typeof b === 'number' ? constant(b, x, op) : b;
  return [x, y];
}
