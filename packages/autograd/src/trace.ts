/**
 * Tracing: watching one run of a function op by op, to write it down as a graph (ONNX export).
 *
 * The tape of ./graph.ts cannot serve: it records only ops that some gradient flows through, and
 * a composite such as `logSumExp` reaches it as primitives fed with values computed on the side
 * (the row maxima), which a graph would then hold as constants. A trace instead sees
 *
 * - every primitive, gradient or not (`apply` in ./functions.ts reports it), and
 * - composites and whole modules as ONE op each: {@link traced} runs the body with reporting
 *   switched off and reports the call itself, with its inputs, attributes and outputs. A GRU is
 *   then one `GRU` op, not thousands of slices, matmuls and sigmoids.
 *
 * Nothing is traced unless a {@link Tracer} is installed by {@link withTracer}; outside a trace
 * every hook is a single null check.
 *
 * @example
 * ```ts
 * const seen: string[] = [];
 * const x = variable([[1, 2]]);
 * withTracer({ op: (o) => seen.push(o.op), born: () => {} }, () => x.softmax(-1).mul(2));
 * seen;   // ['softmax', 'mul']: softmax is one op, its exp and logSumExp are not reported
 * ```
 */
import { forwardCall } from './lifetimes.js';
import type { Variable } from './variable.js';

/** One traced call: a primitive, a composite, or a module (`op: 'module'`, the module in `attrs`). */
export interface TracedOp {
  readonly op: string;
  /** The call's operands: Variables, Tensors (indices, masks), and plain values (lengths). */
  readonly inputs: readonly unknown[];
  readonly attrs: unknown;
  readonly outputs: readonly Variable[];
}

/** What a trace reports to. */
export interface Tracer {
  /** Called once per traced op, right after it computed its outputs (its inputs are still alive). */
  op(o: TracedOp): void;
  /** Called for every Variable created while reporting is on (to tell ops' results from others). */
  born(v: Variable): void;
}

let active: Tracer | null = null;
/** How deep inside {@link traced} bodies we are: reporting is on only at depth 0. */
let depth = 0;

/** Runs `fn` with `tracer` receiving its ops. Traces do not nest. */
export function withTracer<T>(tracer: Tracer, fn: () => T): T {
  if (active !== null) throw new Error('withTracer: a trace is already running (traces do not nest)');
  active = tracer;
  depth = 0;
  try {
    return fn();
  } finally {
    active = null;
  }
}

/** Whether ops are being reported now (a trace is running, and not inside a traced body). */
function isTracing(): boolean {
  return active !== null && depth === 0;
}

/** @internal Reports one op (from `apply`, or from `traced`). */
export function reportOp(op: string, inputs: readonly unknown[], attrs: unknown, outputs: readonly Variable[]): void {
  if (active !== null && depth === 0) active.op({ op, inputs, attrs, outputs });
}

/** @internal Reports a new Variable (from its constructor). */
export function reportBorn(v: Variable): void {
  if (active !== null && depth === 0) active.born(v);
}

/**
 * Runs `body` as ONE traced op named `op`: the ops inside are not reported, and the call is,
 * with `inputs`, `attrs` and the Variables `outputs(result)` picks from the result. Outside a
 * trace it is just `body()`. Modules wrap their `forward` in it (see `traceModule` in @wgru/nn).
 *
 * @example
 * ```ts
 * // A composite of your own, reported as one op 'twice' rather than as a mul:
 * const twice = (x: Variable) => traced('twice', [x], null, () => x.mul(2), (y) => [y]);
 * ```
 */
export function traced<R>(
  op: string,
  inputs: readonly unknown[],
  attrs: unknown,
  body: () => R,
  outputs: (result: R) => readonly Variable[],
): R {
  // Run as a forward: called from user code, what the op makes on the way is the library's
  // (backward frees it), and what it returns is the user's (kept until the next backward).
  if (!isTracing()) return forwardCall(body);
  depth++;
  let result: R;
  try {
    result = forwardCall(body);
  } finally {
    depth--;
  }
  // Outputs are picked at depth 1: values made lazily (a GRU's hN) are made inside the op.
  depth++;
  let outs: readonly Variable[];
  try {
    outs = outputs(result);
  } finally {
    depth--;
  }
  reportOp(op, inputs, attrs, outs);
  return result;
}
