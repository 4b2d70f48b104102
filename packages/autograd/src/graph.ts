import {
  add,
  addInto,
  assign,
  bytesPerElement,
  cast,
  clone,
  concat,
  empty,
  matmul,
  reshape,
  shapeString,
  slice,
  sum,
  type Tensor,
  Tensor as TensorClass,
  tidy,
  transpose,
} from '@wgru/tensor';
import type { Primitive, PrimitiveAttrs, ProductGrad, SliceGrad } from './vjp.js';
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
 * Sums a gradient of a broadcast shape back to `shape` (the one place broadcasting is undone).
 *
 * @example
 * ```ts
 * // x [2, 3] + b [3] broadcasts b over the rows, so b's gradient is the column sums of g:
 * const g = tensor([[1, 2, 3], [4, 5, 6]]);
 * await unbroadcast(g, [3]).data();      // Float32Array [5, 7, 9]
 * await unbroadcast(g, [2, 1]).data();   // Float32Array [6, 15]
 * ```
 */
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

/**
 * The gradient arriving at one Variable, kept unsummed until it is complete: dense parts (in the
 * shape each rule gave, possibly broadcast) and sparse slice blocks. Summing late lets the engine
 * fuse the additions into one kernel and undo broadcasting once, instead of once per use: a GRU's
 * U and biases receive one part per timestep.
 */
interface Pending {
  parts: Tensor[];
  blocks: SliceGrad[];
  products: ProductGrad[];
}

/** Parts are summed early once this many wait (bounds the memory they hold). */
const MAX_PARTS = 8;

/** Adds a contribution to a pending gradient (taking ownership of its tensor). */
function accumulate(p: Pending, g: Tensor | SliceGrad | ProductGrad, like: Variable): void {
  if (!(g instanceof TensorClass)) {
    if (g.kind === 'product') {
      p.products.push(g);
      if (p.products.length >= MAX_PRODUCTS) p.parts.push(multiplyProducts(p.products.splice(0)));
    } else p.blocks.push(g);
    return;
  }
  p.parts.push(g);
  if (p.parts.length >= MAX_PARTS) p.parts = [sumParts(p.parts, like)];
}

/** Products are multiplied early once this many wait (bounds the memory they hold). */
const MAX_PRODUCTS = 64;

/**
 * Σ leftᵀ grad over pending products, as one matmul per group of same-width products: the lefts
 * and the grads stacked along their rows, [Σm, k]ᵀ @ [Σm, n].
 */
function multiplyProducts(products: ProductGrad[]): Tensor {
  const groups = new Map<string, ProductGrad[]>();
  for (const p of products) {
    const key = `${p.left.shape[1]},${p.grad.shape[1]}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const total = tidy(() => {
    let acc: Tensor | null = null;
    for (const same of groups.values()) {
      const lefts =
        same.length === 1
          ? (same[0] as ProductGrad).left
          : concat(
              same.map((p) => p.left),
              0,
            );
      const grads =
        same.length === 1
          ? (same[0] as ProductGrad).grad
          : concat(
              same.map((p) => p.grad),
              0,
            );
      const product = matmul(transpose(lefts), grads);
      acc = acc === null ? product : add(acc, product);
    }
    return acc as Tensor;
  });
  for (const p of products) {
    p.left.dispose();
    p.grad.dispose();
  }
  return total;
}

/** Σ parts in `like`'s shape and dtype: same-shaped parts are added first, then reduced once. */
function sumParts(parts: Tensor[], like: Variable): Tensor {
  const byShape = new Map<string, Tensor[]>();
  for (const t of parts) {
    const key = t.shape.join(',');
    byShape.set(key, [...(byShape.get(key) ?? []), t]);
  }
  const total = tidy(() => {
    let acc: Tensor | null = null;
    for (const same of byShape.values()) {
      const fitted = fitTo(
        same.reduce((a, b) => add(a, b)),
        like,
      );
      acc = acc === null ? fitted : add(acc, fitted);
    }
    return acc as Tensor;
  });
  for (const t of parts) if (t !== total) t.dispose();
  return total;
}

/** Whether slice blocks cover a tensor of `size` elements exactly once (pairwise disjoint boxes). */
function tiles(blocks: readonly SliceGrad[], size: number): boolean {
  const volume = blocks.reduce((n, b) => n + b.size.reduce((m, d) => m * d, 1), 0);
  if (volume !== size) return false;
  for (let i = 0; i < blocks.length; i++) {
    for (let j = i + 1; j < blocks.length; j++) {
      const a = blocks[i] as SliceGrad;
      const b = blocks[j] as SliceGrad;
      const apart = a.begin.some((a0, k) => {
        const b0 = b.begin[k] as number;
        return a0 + (a.size[k] as number) <= b0 || b0 + (b.size[k] as number) <= a0;
      });
      if (!apart) return false;
    }
  }
  return true;
}

/**
 * The complete gradient: the dense parts summed, with every slice block added into place. Blocks
 * that tile the tensor (the gates of a [B, 3H] matrix, the timesteps of a [T, B, G] projection)
 * are copied straight into a fresh buffer, with no zero fill.
 */
function materialize(p: Pending, like: Variable): Tensor {
  if (p.products.length > 0) p.parts.push(multiplyProducts(p.products.splice(0)));
  const dense = p.parts.length > 0 ? sumParts(p.parts, like) : null;
  if (p.blocks.length === 0) return dense as Tensor;
  // A fresh buffer: the dense part may share storage with another gradient (rules pass `g` on).
  const base = empty(like.value.backend, like.shape, like.dtype);
  const copy = dense === null && tiles(p.blocks, like.size);
  if (!copy) assign(base, dense ?? 0);
  dense?.dispose();
  for (const b of p.blocks) {
    const region = slice(base, [...b.begin], [...b.size]);
    if (copy) assign(region, b.grad);
    else addInto(region, b.grad);
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
  // The forward pass is complete: submit it now, so the device computes it while the host
  // records the backward pass (one more submit per step, no wait).
  root.value.backend.flush();
  const order = topologicalOrder(root);
  const pending = new Map<Variable, Pending>([[root, { parts: [seed.share()], blocks: [], products: [] }]]);
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
    const rule = vjps[node.op] as (g: Tensor, ctx: unknown) => Array<Tensor | SliceGrad | ProductGrad | null>;
    const inGrads = tidy(() =>
      rule(g, { inputs: inputs.map((x) => x.value), output: v.value, attrs: node.attrs, needs }).map((gi, j) => {
        if (gi === null || !needs[j]) return null;
        return gi; // summed back to the input's shape once its gradient is complete
      }),
    );
    // Anomaly mode: a NaN or Infinity in a gradient this VJP made.
    inGrads.forEach((gi, j) => {
      if (gi) inspectGradient(node.op, v.shape, j, gi instanceof TensorClass ? gi : gi.grad);
    });
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
        q = { parts: [], blocks: [], products: [] };
        pending.set(x, q);
      }
      accumulate(q, gi, x);
    });
    if (!opts.retainGraph) v.release(v === root);
  }
}
