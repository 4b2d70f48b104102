/**
 * The accumulation pass: how the gradients that the rules of ./vjp.ts hand to a Variable become
 * its one gradient. In the textbook, ∂x = Σ over the ops that read x of what each one hands back,
 * added as it arrives. Here the parts wait, unsummed, until x's turn comes in the reverse loop
 * (every reader has handed in its part by then), and three rewrites make the sum cheap for a
 * recurrence:
 *
 * 1. **Late sums.** Dense parts are added when the gradient is complete, same-shaped parts first
 *    (up to four in one kernel), then summed back over broadcast axes once
 *    (`unbroadcast`), rather than once per part: a GRU's biases get one part per timestep.
 * 2. **Sparse slices.** `slice`'s rule hands back its `g` placed in a block of zeros
 *    (`placed`, ./blocks.ts). The block stays sparse, and the blocks are written into one buffer
 *    when the gradient is complete: T slices of a [T, ...] tensor cost O(T), not T dense tensors,
 *    O(T²). Blocks that tile the tensor exactly (the gates of a [B, 3H] matrix) are copied side
 *    by side, with no zero fill.
 * 3. **Stacked products.** `matmul`'s rule hands back ∂B = Aᵀ G unmultiplied
 *    ({@link transposeTimes}). A weight read at every timestep (a GRU's U) receives one such
 *    product per step, and Σ_t A_tᵀ G_t is computed as ONE matmul of the stacked operands,
 *    [H, T·B] @ [T·B, 3H], instead of T small ones. A batched A under a 2-D B ([T, B, I] @ [I, 3H])
 *    is folded the same way: its batch becomes rows, and the product is already summed over it.
 */
import {
  add,
  bytesPerElement,
  cast,
  clone,
  concat,
  keep,
  matmul,
  neg,
  permute,
  reshape,
  sum,
  type Expr,
  type Tensor,
  Tensor as TensorClass,
  tidy,
  transpose,
} from '@wgru/tensor';
import { type Placed, placeBlocks } from './blocks.js';
import { E, fusedRule } from './fused.js';
import type { Variable } from './variable.js';

/** Aᵀ G, not yet multiplied: the gradient of a matmul's right operand. */
export interface Product {
  readonly kind: 'product';
  /** A, [..., m, k]. */
  readonly left: Tensor;
  /** G, [..., m, n]. */
  readonly grad: Tensor;
}

/** −G, not yet negated: the gradient of a subtraction's right operand. */
export interface Negated {
  readonly kind: 'negated';
  readonly grad: Tensor;
}

/** What a rule may hand back for one input: a dense tensor, or one of the three deferred forms. */
export type Grad = Tensor | Placed | Product | Negated;

/**
 * −g, kept as g: the pass subtracts it where it adds the other parts (a − b in one kernel, where
 * neg then add would be two), and negates it alone only where it is the only part.
 */
export function negated(g: Tensor): Negated {
  return { kind: 'negated', grad: g };
}

/**
 * Aᵀ G, kept unmultiplied so that the pass can stack it with the other products of the same
 * gradient (see rewrite 3 above). Its handles outlive the rule's `tidy`.
 */
export function transposeTimes(a: Tensor, g: Tensor): Product {
  return { kind: 'product', left: keep(a.share()), grad: keep(g.share()) };
}

/** The tensor a gradient holds (its own, or its block's, or its product's G). */
const tensorOf = (g: Grad): Tensor => (g instanceof TensorClass ? g : g.grad);

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

/** The parts of one Variable's gradient, waiting for its turn. */
interface Pending {
  parts: Tensor[];
  /** The parts to subtract rather than add (see `negated`). */
  negated: Tensor[];
  blocks: Placed[];
  products: Product[];
}

/** Parts are summed early once this many wait (bounds the memory they hold). */
const MAX_PARTS = 8;
/** Products are multiplied early once this many wait (bounds the memory they hold). */
const MAX_PRODUCTS = 64;

/** The gradients on their way through one backward pass, kept by the Variable they are for. */
export class Gradients {
  readonly #pending = new Map<Variable, Pending>();

  /**
   * Hands on the gradients a rule returned for `inputs` (null where none is needed), taking
   * ownership of each; `g`, the gradient the rule was given, is freed. A rule may pass `g` through
   * (add) or return one tensor for two inputs, so each is made owned once.
   */
  handOn(inputs: readonly Variable[], grads: ReadonlyArray<Grad | null>, g: Tensor): void {
    const owned: Tensor[] = [];
    const mine: Array<Grad | null> = [];
    for (const gi of grads) {
      if (gi === null) {
        mine.push(null);
        continue;
      }
      const t = tensorOf(gi);
      const own = t === g || owned.includes(t) ? t.share() : t;
      owned.push(own);
      mine.push(own === t ? gi : gi instanceof TensorClass ? own : { ...gi, grad: own });
    }
    g.dispose();
    for (let j = 0; j < mine.length; j++) {
      const gi = mine[j];
      if (gi !== null && gi !== undefined) this.add(inputs[j] as Variable, gi);
    }
  }

  /** Adds one part of `x`'s gradient (taking ownership of its tensor). */
  add(x: Variable, g: Grad): void {
    let p = this.#pending.get(x);
    if (p === undefined) {
      p = { parts: [], negated: [], blocks: [], products: [] };
      this.#pending.set(x, p);
    }
    if (g instanceof TensorClass || g.kind === 'negated') {
      const t = tensorOf(g);
      p.parts.push(t);
      if (!(g instanceof TensorClass)) p.negated.push(t);
      if (p.parts.length >= MAX_PARTS) {
        p.parts = [sumParts(p.parts, p.negated, x)];
        p.negated = [];
      }
    } else if (g.kind === 'placed') {
      p.blocks.push(g);
    } else if (!stackable(g, x)) {
      p.parts.push(multiplyNow(g));
    } else {
      p.products.push(g);
      if (p.products.length >= MAX_PRODUCTS) p.parts.push(multiplyProducts(p.products.splice(0)));
    }
  }

  /** `v`'s complete gradient, with every part added in, or null if nothing reached it. */
  take(v: Variable): Tensor | null {
    const p = this.#pending.get(v);
    if (p === undefined) return null;
    this.#pending.delete(v);
    if (p.products.length > 0) p.parts.push(multiplyProducts(p.products));
    const dense = p.parts.length > 0 ? sumParts(p.parts, p.negated, v) : null;
    return p.blocks.length === 0 ? (dense as Tensor) : placeBlocks(p.blocks, dense, v);
  }
}

/**
 * Σ parts (less those in `negated`) in `like`'s shape and dtype: same-shaped parts are added
 * first, then reduced once.
 */
function sumParts(parts: Tensor[], negated: readonly Tensor[], like: Variable): Tensor {
  const byShape = new Map<string, Tensor[]>();
  for (const t of parts) {
    const key = t.shape.join(',');
    byShape.set(key, [...(byShape.get(key) ?? []), t]);
  }
  const total = tidy(() => {
    let acc: Tensor | null = null;
    for (const same of byShape.values()) {
      const fitted = fitTo(addAll(same, negated), like);
      acc = acc === null ? fitted : add(acc, fitted);
    }
    return acc as Tensor;
  });
  for (const t of parts) if (t !== total) t.dispose();
  return total;
}

/** Operands per kernel of a sum (WebGPU binds each as a buffer: the least limit is 8). */
const SUM_OPERANDS = 4;

/**
 * The kernel that adds one group of parts, by sign pattern ('+' or '-' per part: "+-+" is
 * x0 − x1 + x2), built once per pattern (see fusedRule): a GRU's h_{t-1} sums three or four parts
 * at every timestep.
 */
const signedSums = new Map<string, (parts: readonly Tensor[]) => Tensor>();

function signedSum(signs: string): (parts: readonly Tensor[]) => Tensor {
  let rule = signedSums.get(signs);
  if (rule === undefined) {
    const minus = (k: number) => signs[k] === '-';
    rule = fusedRule('add', (x0, ...xs) =>
      xs.reduce((a, x, k) => (minus(k + 1) ? E.sub(a, x) : E.add(a, x)), minus(0) ? E.neg(x0 as Expr) : (x0 as Expr)),
    );
    signedSums.set(signs, rule);
  }
  return rule;
}

/**
 * Σ same-shaped parts, left to right as `reduce(add)` adds them (a part in `negated` subtracted:
 * a − b, as a + neg(b) gives it exactly), up to SUM_OPERANDS in one kernel.
 */
function addAll(parts: readonly Tensor[], negated: readonly Tensor[]): Tensor {
  let acc = parts[0] as Tensor;
  let accMinus = negated.includes(acc);
  if (parts.length === 1) return accMinus ? neg(acc) : acc;
  for (let i = 1; i < parts.length; i += SUM_OPERANDS - 1) {
    const group = [acc, ...parts.slice(i, i + SUM_OPERANDS - 1)];
    let signs = accMinus ? '-' : '+';
    for (let k = 1; k < group.length; k++) signs += negated.includes(group[k] as Tensor) ? '-' : '+';
    acc = signs === '++' ? add(acc, group[1] as Tensor) : signedSum(signs)(group);
    accMinus = false;
  }
  return acc;
}

/**
 * Whether a product can be stacked with others: a 2-D Aᵀ G, or a batched A and G under a 2-D B,
 * whose batch folds into the rows.
 */
function stackable(p: Product, x: Variable): boolean {
  return p.left.rank === 2 ? p.grad.rank === 2 : x.rank === 2 && p.grad.rank === p.left.rank;
}

/** A product that cannot be stacked (a batched B), multiplied at once: Aᵀ G per batch entry. */
function multiplyNow(p: Product): Tensor {
  const a = p.left;
  const aT = permute(
    a,
    [...a.shape.keys()].map((i) => (i < a.rank - 2 ? i : 2 * a.rank - 3 - i)),
  );
  const out = matmul(aT, p.grad);
  aT.dispose();
  a.dispose();
  p.grad.dispose();
  return out;
}

/** [m, k] rows of a stackable operand: a 2-D one as is, a batched one with its batch folded in. */
const rows = (t: Tensor): Tensor => (t.rank === 2 ? t : reshape(t, [-1, t.shape[t.rank - 1]]));

/**
 * Σ Aᵀ G over waiting products, as one matmul per group of same-width products: the A's and the
 * G's stacked along their rows, [Σm, k]ᵀ @ [Σm, n].
 */
function multiplyProducts(products: Product[]): Tensor {
  const groups = new Map<string, Product[]>();
  for (const p of products) {
    const key = `${p.left.shape[p.left.rank - 1]},${p.grad.shape[p.grad.rank - 1]}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const total = tidy(() => {
    let acc: Tensor | null = null;
    for (const same of groups.values()) {
      const stacked = (part: (p: Product) => Tensor) =>
        same.length === 1
          ? rows(part(same[0] as Product))
          : concat(
              same.map((p) => rows(part(p))),
              0,
            );
      const product = matmul(
        transpose(stacked((p) => p.left)),
        stacked((p) => p.grad),
      );
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

/** Whether `t` alone owns its storage, dense and row-major from the start. */
function ownsDenseStorage(t: Tensor): boolean {
  let stride = 1;
  for (let i = t.rank - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== stride) return false;
    stride *= t.shape[i];
  }
  return t.offset === 0 && t.storage.refs === 1 && t.storage.byteLength === t.size * bytesPerElement(t.dtype);
}

/**
 * Adds a finished gradient into a leaf's `.grad`. A leaf's gradient is its own dense tensor: rules
 * may hand on a view of the gradient given to `backward()`, a slice of another gradient or a
 * stride-0 broadcast, and an optimizer or the caller must be free to keep, overwrite or reuse
 * either side.
 */
export function accumulateLeaf(v: Variable, g: Tensor): void {
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
