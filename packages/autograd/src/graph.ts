import {
  add, addInto, assign, bytesPerElement, cast, clone, empty, reshape, shapeString, slice, sum, type Tensor, Tensor as TensorClass, tidy,
} from '@wgru/tensor';
import type { Primitive, PrimitiveAttrs, SliceGrad } from './vjp.js';
import { inspectGradient } from './anomaly.js';
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
 * const y = noGrad(() => model.forward(x)); // y.requiresGrad === false
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

/** Sums a gradient of a broadcast shape back to `shape` (the one place broadcasting is undone). */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = sum(g, axes, true);
  const r = reshape(s, [...shape]);
  s.dispose();
  return r;
}

/**
 * A gradient made to fit the input it is for: summed back over broadcast axes, and of the input's
 * dtype (a float32 input beside a float64 one gets a float32 gradient, as in PyTorch).
 */
function fitTo(g: Tensor, x: Variable): Tensor {
  const s = unbroadcast(g, x.shape);
  return s.dtype === x.dtype ? s : cast(s, x.dtype);
}

/** Whether `t` alone owns its storage, dense and row-major from the start. */
function ownsDenseStorage(t: Tensor): boolean {
  let stride = 1;
  for (let i = t.rank - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== stride) return false;
    stride *= t.shape[i] as number;
  }
  return t.offset === 0 && t.storage.refs === 1 && t.storage.byteLength === t.size * bytesPerElement(t.dtype);
}

/**
 * Adds a finished gradient into a leaf's `.grad`. A leaf's gradient is its own dense tensor: rules
 * may hand on a view of the caller's seed, a slice of another gradient or a stride-0 broadcast,
 * and an optimizer or the caller must be free to keep, overwrite or reuse either side.
 */
function accumulateLeaf(v: Variable, g: Tensor): void {
  if (v.grad !== null) {
    const acc = add(v.grad, g);
    v.grad.dispose();
    g.dispose();
    v.grad = acc;
  } else if (ownsDenseStorage(g)) {
    v.grad = g;
  } else {
    v.grad = clone(g);
    g.dispose();
  }
}

/** Variables reachable from `root` through recorded nodes, inputs before the ops that use them. */
function topologicalOrder(root: Variable): Variable[] {
  const order: Variable[] = [];
  const seen = new Set<Variable>();
  // Iterative depth-first search: a graph unrolled over 10,000 timesteps must not overflow the stack.
  const stack: Array<{ v: Variable; expanded: boolean }> = [{ v: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop() as { v: Variable; expanded: boolean };
    if (top.expanded) {
      order.push(top.v);
      continue;
    }
    if (seen.has(top.v)) continue;
    seen.add(top.v);
    const freed = top.v.freed;
    if (top.v.node === null && freed !== null) {
      throw new Error(
        `backward: the graph through ${freed.op} (output ${shapeString(freed.shape)}) was already freed by an earlier backward(); ` +
          'pass { retainGraph: true } to the first backward() to backpropagate through it again',
      );
    }
    stack.push({ v: top.v, expanded: true });
    for (const x of top.v.node?.inputs ?? []) if (!seen.has(x) && x.requiresGrad) stack.push({ v: x, expanded: false });
  }
  return order;
}

export interface BackwardOptions {
  /** Keep the graph and its intermediate values (to call backward again, or read them after). */
  retainGraph?: boolean;
}

/** The gradient arriving at one Variable: a dense sum plus sparse slice blocks. */
interface Pending {
  dense: Tensor | null;
  blocks: SliceGrad[];
}

/** Adds a contribution to a pending gradient (taking ownership of its tensor). */
function accumulate(p: Pending, g: Tensor | SliceGrad): void {
  if (!(g instanceof TensorClass)) {
    p.blocks.push(g);
    return;
  }
  if (p.dense === null) p.dense = g;
  else {
    const sum = add(p.dense, g);
    p.dense.dispose();
    g.dispose();
    p.dense = sum;
  }
}

/** The complete gradient: the dense part (or zeros) with every slice block added into place. */
function materialize(p: Pending, like: Variable): Tensor {
  if (p.blocks.length === 0) return p.dense as Tensor;
  // A fresh buffer: the dense part may share storage with another gradient (rules pass `g` on).
  const base = empty(like.value.backend, like.shape, like.dtype);
  assign(base, p.dense ?? 0);
  p.dense?.dispose();
  for (const b of p.blocks) {
    const region = slice(base, [...b.begin], [...b.size]);
    addInto(region, b.grad);
    region.dispose();
    b.grad.dispose();
  }
  return base;
}

/**
 * Reverse-mode accumulation from `root`: walks the graph in reverse topological order, applies
 * each primitive's VJP, sums the gradients of values used more than once (such as h_{t-1}, read
 * by every gate), and accumulates into `.grad` of the leaves that require it. Then, unless
 * `retainGraph`, it frees the intermediate values of the graph it consumed.
 */
export function backward(root: Variable, seed: Tensor, opts: BackwardOptions = {}): void {
  const order = topologicalOrder(root);
  const pending = new Map<Variable, Pending>([[root, { dense: seed.share(), blocks: [] }]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i] as Variable;
    const p = pending.get(v);
    pending.delete(v);
    if (p === undefined) {
      // Reached but given no gradient (a `where` condition that requires grad): nothing flows
      // through it, but its part of the graph is consumed all the same.
      if (!opts.retainGraph) v.release(v === root);
      continue;
    }
    const g = materialize(p, v);
    const node = v.node;
    if (node === null) {
      accumulateLeaf(v, g);
      continue;
    }
    const inputs = node.inputs;
    const needs = inputs.map((x) => x.requiresGrad);
    const rule = vjps[node.op] as (g: Tensor, ctx: unknown) => Array<Tensor | SliceGrad | null>;
    const inGrads = tidy(() =>
      rule(g, { inputs: inputs.map((x) => x.value), output: v.value, attrs: node.attrs, needs }).map((gi, j) => {
        if (gi === null || !needs[j]) return null;
        return gi instanceof TensorClass ? fitTo(gi, inputs[j] as Variable) : gi;
      }),
    );
    // Anomaly mode: a NaN or Infinity in a gradient this VJP made.
    inGrads.forEach((gi, j) => gi && inspectGradient(node.op, v.shape, j, gi instanceof TensorClass ? gi : gi.grad));
    // Each gradient handed on must be owned once: a rule may pass `g` through (add) or return one
    // tensor for two inputs.
    const owned = new Set<Tensor>();
    for (let j = 0; j < inGrads.length; j++) {
      const gi = inGrads[j];
      if (gi === null || gi === undefined) continue;
      const t = gi instanceof TensorClass ? gi : gi.grad;
      const mine = t === g || owned.has(t) ? t.share() : t;
      owned.add(mine);
      inGrads[j] = gi instanceof TensorClass ? mine : { ...gi, grad: mine };
    }
    g.dispose();
    inputs.forEach((x, j) => {
      const gi = inGrads[j];
      if (gi === null || gi === undefined) return;
      let q = pending.get(x);
      if (q === undefined) {
        q = { dense: null, blocks: [] };
        pending.set(x, q);
      }
      accumulate(q, gi);
    });
    if (!opts.retainGraph) v.release(v === root);
  }
}
