import { type Shape, shapeString, type Tensor, Tensor as TensorClass, tidy } from '@wgru/tensor';
import { accumulateLeaf, type Grad, Gradients } from './accumulate.js';
import { inspectGradient, isAnomalyDetectionEnabled } from './anomaly.js';
import { freeEarlierOutputs } from './lifetimes.js';
import type { Primitive, PrimitiveAttrs, VjpContext } from './vjp.js';
import { vjps } from './vjp.js';
import type { Variable } from './variable.js';

/** How a non-leaf Variable was made: the primitive, its inputs and attributes. */
export interface Node<P extends Primitive = Primitive> {
  readonly op: P;
  readonly inputs: readonly Variable[];
  readonly attrs: PrimitiveAttrs[P];
}

let gradEnabled = true;

/** Whether ops are being recorded (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording any graph: for inference and for parameter updates.
 *
 * @example
 * ```ts
 * const w = variable([[0.5], [-1]], { requiresGrad: true });
 * const y = noGrad(() => variable([[1, 2]]).matmul(w));   // no graph is recorded
 * y.requiresGrad;                                         // false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Variables reachable from `root` through recorded nodes, inputs before the ops that use them,
 * and the same Variables as a set.
 */
function topologicalOrder(root: Variable): { order: Variable[]; seen: Set<Variable> } {
  const order: Variable[] = [];
  const seen = new Set<Variable>();
  // Iterative depth-first search: a graph unrolled over 10,000 timesteps must not overflow the stack.
  // A Variable is pushed twice: to expand it, then (marked) to place it after its inputs.
  const stack: Variable[] = [root];
  const expanded: boolean[] = [false];
  while (stack.length > 0) {
    const v = stack.pop() as Variable;
    if (expanded.pop()) {
      order.push(v);
      continue;
    }
    if (seen.has(v)) continue;
    seen.add(v);
    const freed = v.freed;
    if (v.node === null && freed !== null) {
      throw new Error(
        `backward: the graph through ${freed.op} (output ${shapeString(freed.shape)}) was already freed by an earlier backward(); ` +
          'pass { retainGraph: true } to the first backward() to backpropagate through it again',
      );
    }
    stack.push(v);
    expanded.push(true);
    for (const x of v.node?.inputs ?? []) {
      if (seen.has(x) || !x.requiresGrad) continue;
      stack.push(x);
      expanded.push(false);
    }
  }
  return { order, seen };
}

export interface BackwardOptions {
  /** Keep the graph and its intermediate values (to call backward again, or read them after). */
  retainGraph?: boolean;
}

/**
 * Reverse-mode accumulation from `root`: walks the graph in reverse topological order and applies
 * each primitive's rule to the gradient of its output, handing each input its part. A Variable's
 * turn comes after every op that reads it, so its gradient is complete by then: the parts of a
 * value used more than once (such as h_{t-1}, read by every gate) are summed by the accumulation
 * pass (./accumulate.ts), and a leaf's is added into its `.grad`. Unless `retainGraph`, each
 * node is freed once its rule has run (see docs/lifetimes.md).
 */
export function backward(root: Variable, gradient: Tensor, opts: BackwardOptions = {}): void {
  // The forward pass is complete: submit it now, so the device computes it while the host
  // records the backward pass (one more submit per step, no wait).
  root.value.backend.flush();
  const { order, seen } = topologicalOrder(root);
  if (!opts.retainGraph) freeEarlierOutputs(seen);
  const grads = new Gradients();
  grads.add(root, gradient.share());
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i] as Variable;
    // Null where nothing flows in (a `where` condition that requires grad): its part of the graph
    // is consumed all the same.
    const g = grads.take(v);
    const node = v.node;
    if (g !== null && node === null) accumulateLeaf(v, g);
    if (g !== null && node !== null) grads.handOn(node.inputs, applyRule(node, g, v), g);
    if (!opts.retainGraph) v.release(v === root);
  }
}

/** The gradients a node's rule gives its inputs (null for those that need none). */
function applyRule(node: Node, g: Tensor, out: Variable): Array<Grad | null> {
  const inputs = node.inputs;
  const n = inputs.length;
  const needs = new Array<boolean>(n);
  const values = new Array<Tensor>(n);
  const shapes = new Array<Shape>(n);
  for (let j = 0; j < n; j++) {
    const x = inputs[j] as Variable;
    needs[j] = x.requiresGrad;
    values[j] = x.value;
    shapes[j] = values[j].shape;
  }
  const rule = vjps[node.op] as (g: Tensor, ctx: VjpContext<Primitive>) => Array<Grad | null>;
  const ctx = { inputs: values, shapes, output: out.value, attrs: node.attrs, needs };
  const grads = tidy(() => {
    const gs = rule(g, ctx);
    for (let j = 0; j < n; j++) if (!needs[j]) gs[j] = null;
    return gs;
  });
  // Anomaly mode: a NaN or Infinity in a gradient this rule made.
  if (isAnomalyDetectionEnabled()) {
    grads.forEach((gi, j) => {
      if (gi) inspectGradient(node.op, out.shape, j, gi instanceof TensorClass ? gi : gi.grad);
    });
  }
  return grads;
}
