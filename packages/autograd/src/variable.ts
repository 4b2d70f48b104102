import {
  activeBackend,
  type Backend,
  type DType,
  type NestedArray,
  type Shape,
  shapeString,
  type Tensor,
  Tensor as TensorClass,
  tensorOn,
  type TypedArray,
  assign,
  cast,
  empty,
} from '@wgru/tensor';
import { checkAnomalies, hasPendingAnomalies } from './anomaly.js';
import { type BackwardOptions, backward as runBackward, type Node } from './graph.js';
import * as F from './functions.js';
import { reportBorn } from './trace.js';

/** A constant leaf for one use inside the graph, freed with the node that consumes it. */
export function transientConstant(value: Tensor): Variable {
  const v = new Variable(value, false);
  v.transient = true;
  return v;
}

/**
 * A constant leaf that several ops of one forward pass read (an RNN's zero initial state, a
 * per-timestep length mask), taking over `value`. Its maker holds it until
 * {@link releaseShared}; every recorded op that reads it holds it until backward frees that op.
 * It is freed when the last hold ends: at the maker's release when no graph was recorded
 * (inference), else by the backward that consumes the graph. Nothing is left for the GC.
 */
export function sharedConstant(value: Tensor): Variable {
  const v = new Variable(value, false);
  v.holds = 1;
  return v;
}

/** Ends one hold on a {@link sharedConstant}, freeing it when none is left. Idempotent at zero. */
export function releaseShared(v: Variable): void {
  if (v.holds > 0 && --v.holds === 0) v.dispose();
}

/** A Variable or a plain number (a constant that broadcasts). */
export type VariableLike = Variable | number;

/**
 * A Tensor that remembers how it was made. Ops on Variables record a graph (unless inside
 * `noGrad`); `backward()` walks it in reverse and accumulates gradients into the `.grad` of every
 * leaf that requires one.
 *
 * @example
 * ```ts
 * const x = variable([1, 2, 3], { requiresGrad: true });
 * const y = x.mul(x).sum();      // y = Σ x²
 * y.backward();
 * await x.grad!.data();          // Float32Array [2, 4, 6]
 * ```
 */
export class Variable {
  #value: Tensor | null;
  /** The gradient accumulated by `backward()`, or null. */
  grad: Tensor | null = null;
  #requiresGrad = false;
  /** @internal The op that made this Variable (null for leaves and after the graph is freed). */
  node: Node | null;
  /** @internal The op that made this Variable and its output shape, once backward has freed its graph. */
  freed: { op: string; shape: Shape } | null = null;
  /**
   * @internal A constant leaf made for one op (a scalar operand, a dropout mask): freed together
   * with the node that uses it when backward consumes the graph.
   */
  transient = false;
  /**
   * @internal For a {@link sharedConstant}: the holds on it (its maker's, and one per recorded op
   * reading it); 0 for every other Variable.
   */
  holds = 0;
  /**
   * @internal A one-element root after a backward() that consumed its graph: its value was copied
   * to the host and the device tensor freed (see `backward`). Shape and dtype are kept.
   */
  #moved: { host: Promise<TypedArray>; shape: Shape; dtype: DType } | null = null;

  constructor(value: Tensor, requiresGrad = false, node: Node | null = null) {
    this.#value = value;
    this.requiresGrad = requiresGrad;
    this.node = node;
    reportBorn(this); // a trace tells ops' results from values made beside them (./trace.ts)
  }

  /** Whether gradients flow to (and are accumulated for) this Variable. Only float Variables may. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }
  set requiresGrad(on: boolean) {
    const v = this.#value;
    if (on && v !== null && v.dtype === 'int32') {
      throw new Error(
        `requiresGrad: an int32 Variable ${shapeString(v.shape)} cannot require grad (only float Variables have gradients)`,
      );
    }
    this.#requiresGrad = on;
  }

  /** The value. Intermediate values are freed by `backward()` (unless `retainGraph`). */
  get value(): Tensor {
    if (this.#value === null) {
      if (this.#moved !== null) {
        throw new Error(
          `Variable ${shapeString(this.#moved.shape)}: backward() moved this loss value to the host and freed its device tensor; ` +
            'read it with await item() or data(), or call backward(undefined, { retainGraph: true }) to keep it on the device',
        );
      }
      throw new Error(
        'Variable: its value was freed by backward(); read intermediate values before backward(), or call backward({ retainGraph: true })',
      );
    }
    return this.#value;
  }

  get shape(): Shape {
    return this.#moved?.shape ?? this.value.shape;
  }
  get dtype(): DType {
    return this.#moved?.dtype ?? this.value.dtype;
  }
  get size(): number {
    return this.#moved ? 1 : this.value.size;
  }
  get rank(): number {
    return this.#moved ? this.#moved.shape.length : this.value.rank;
  }
  /** Whether this Variable was not made by a recorded op (a leaf of the graph). */
  get isLeaf(): boolean {
    return this.node === null && this.freed === null;
  }

  /** A row-major copy of the value on the host. In anomaly mode, first reports any pending NaN/Inf. */
  async data(): Promise<Float32Array | Float64Array> {
    if (hasPendingAnomalies()) await checkAnomalies();
    const d = await (this.#moved?.host ?? this.value.data());
    return d instanceof Int32Array ? Float32Array.from(d) : d;
  }

  async array(): Promise<NestedArray> {
    if (hasPendingAnomalies()) await checkAnomalies();
    if (this.#moved)
      return this.#moved.shape.length === 0
        ? ((await this.#moved.host)[0] as number)
        : Array.from(await this.#moved.host);
    return this.value.array();
  }

  /** The single value of a one-element Variable. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new Error(`item: needs a Variable with one element, got shape ${shapeString(this.shape)}`);
    if (hasPendingAnomalies()) await checkAnomalies();
    return (await (this.#moved?.host ?? this.value.data()))[0] as number;
  }

  /**
   * Accumulates d(this)/d(leaf) into `.grad` of every leaf that requires it. `gradient` is the
   * seed (required unless this Variable has a single element). Frees the graph's intermediate
   * values unless `retainGraph`.
   */
  backward(gradient?: Tensor, opts: BackwardOptions = {}): void {
    if (this.node === null && this.freed !== null) {
      throw new Error(
        `backward: the graph through ${this.freed.op} (output ${shapeString(this.freed.shape)}) was already freed by an earlier backward(); ` +
          'pass { retainGraph: true } to the first backward() to backpropagate through it again',
      );
    }
    if (!this.requiresGrad) {
      throw new Error(
        'backward: this Variable does not require grad (no input of the graph has requiresGrad: true, or it was made inside noGrad)',
      );
    }
    let seed: Tensor;
    if (gradient === undefined) {
      if (this.size !== 1)
        throw new Error(`backward: gradient must be given for a non-scalar output of shape ${shapeString(this.shape)}`);
      seed = empty(this.value.backend, this.shape, this.dtype);
      assign(seed, 1);
    } else if (
      !(gradient instanceof TensorClass) ||
      gradient.shape.length !== this.rank ||
      gradient.shape.some((d, i) => d !== this.shape[i])
    ) {
      throw new Error(
        `backward: gradient must be a Tensor of shape ${shapeString(this.shape)}, got ${gradient instanceof TensorClass ? shapeString(gradient.shape) : typeof gradient}`,
      );
    } else if (gradient.backend !== this.value.backend) {
      throw new Error(
        `backward: gradient is on the ${gradient.backend.info.name} backend, this Variable on ${this.value.backend.info.name}`,
      );
    } else {
      // The seed in the output's dtype (an int32 or float64 seed for a float32 output is converted).
      seed = gradient.dtype === this.dtype ? gradient : cast(gradient, this.dtype);
    }
    const madeByOp = this.node !== null;
    try {
      runBackward(this, seed, opts);
    } finally {
      if (seed !== gradient) seed.dispose();
    }
    // A loss made by ops is the one value of its graph that backward keeps, and nothing else would
    // ever free it in a loop that never disposes (`liveTensors` would grow until the GC ran). Its
    // single number is copied to the host instead: `item()`, `data()` and `array()` still answer,
    // and the device tensor goes back to the pool now.
    if (madeByOp && !opts.retainGraph && this.size === 1) this.#moveToHost();
  }

  /** Copies the one-element value to the host and frees the device tensor (see `backward`). */
  #moveToHost(): void {
    const t = this.#value;
    if (t === null) return;
    // The backend's read records its copy before it first awaits, so the storage may go back to
    // the pool right after: later writes to it are ordered after the copy.
    const host = t.data();
    host.catch(() => undefined); // a failed read is reported when the value is read
    this.#moved = { host, shape: t.shape, dtype: t.dtype };
    t.dispose();
    this.#value = null;
  }

  /** A new leaf sharing this value, cut off from the graph. */
  detach(): Variable {
    return new Variable(this.value.share(), false);
  }

  /** Sets `.grad` to null (disposing it). */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** Frees the value (and gradient). Idempotent. */
  dispose(): void {
    this.#value?.dispose();
    this.#value = null;
    this.zeroGrad();
    this.node = null;
  }

  /** `using v = variable(...)` disposes it at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * @internal Frees the value's storage but keeps its shape, dtype and backend (the graph still
   * needs those). For intermediates no gradient rule will read: see `internal`.
   */
  dropValue(): void {
    this.#value?.dispose();
  }

  /** @internal Called by backward on each consumed node: drops the graph, frees intermediates. */
  release(isRoot: boolean): void {
    if (this.node === null) return;
    for (const x of this.node.inputs) {
      if (x.transient) x.dispose();
      else if (x.holds > 0) releaseShared(x);
    }
    this.freed = { op: this.node.op, shape: this.#value?.shape ?? [] };
    this.node = null;
    if (!isRoot) {
      this.#value?.dispose();
      this.#value = null;
    }
  }

  /** @internal Replaces the value in place (for optimizers and weight loading). */
  setValue(t: Tensor): void {
    this.#value?.dispose();
    this.#value = t;
  }

  toString(): string {
    return `Variable(${shapeString(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // Differentiable methods (NumPy broadcasting everywhere); see ./functions.ts.
  add(b: VariableLike): Variable {
    return F.add(this, b);
  }
  sub(b: VariableLike): Variable {
    return F.sub(this, b);
  }
  mul(b: VariableLike): Variable {
    return F.mul(this, b);
  }
  div(b: VariableLike): Variable {
    return F.div(this, b);
  }
  pow(b: VariableLike): Variable {
    return F.pow(this, b);
  }
  maximum(b: VariableLike): Variable {
    return F.maximum(this, b);
  }
  minimum(b: VariableLike): Variable {
    return F.minimum(this, b);
  }
  neg(): Variable {
    return F.neg(this);
  }
  exp(): Variable {
    return F.exp(this);
  }
  log(): Variable {
    return F.log(this);
  }
  sqrt(): Variable {
    return F.sqrt(this);
  }
  square(): Variable {
    return F.square(this);
  }
  sigmoid(): Variable {
    return F.sigmoid(this);
  }
  tanh(): Variable {
    return F.tanh(this);
  }
  relu(): Variable {
    return F.relu(this);
  }
  abs(): Variable {
    return F.abs(this);
  }
  matmul(b: Variable): Variable {
    return F.matmul(this, b);
  }
  sum(axes?: number | number[], keepDims = false): Variable {
    return F.sum(this, axes, keepDims);
  }
  mean(axes?: number | number[], keepDims = false): Variable {
    return F.mean(this, axes, keepDims);
  }
  max(axes?: number | number[], keepDims = false): Variable {
    return F.max(this, axes, keepDims);
  }
  min(axes?: number | number[], keepDims = false): Variable {
    return F.min(this, axes, keepDims);
  }
  reshape(shape: number[]): Variable {
    return F.reshape(this, shape);
  }
  transpose(perm?: number[]): Variable {
    return F.transpose(this, perm);
  }
  permute(perm: number[]): Variable {
    return F.permute(this, perm);
  }
  slice(begin: number[], size: number[]): Variable {
    return F.slice(this, begin, size);
  }
  squeeze(axes?: number | number[]): Variable {
    return F.squeeze(this, axes);
  }
  unsqueeze(axis: number): Variable {
    return F.unsqueeze(this, axis);
  }
  gather(indices: Tensor, axis = 0): Variable {
    return F.gather(this, indices, axis);
  }
  softmax(axis = -1): Variable {
    return F.softmax(this, axis);
  }
  logSoftmax(axis = -1): Variable {
    return F.logSoftmax(this, axis);
  }
  logSumExp(axis = -1, keepDims = false): Variable {
    return F.logSumExp(this, axis, keepDims);
  }
  // Comparisons give float32 0/1 masks (no gradient).
  equal(b: VariableLike): Variable {
    return F.compare('equal', this, b);
  }
  less(b: VariableLike): Variable {
    return F.compare('less', this, b);
  }
  greater(b: VariableLike): Variable {
    return F.compare('greater', this, b);
  }
  lessEqual(b: VariableLike): Variable {
    return F.compare('lessEqual', this, b);
  }
  greaterEqual(b: VariableLike): Variable {
    return F.compare('greaterEqual', this, b);
  }
}

export interface VariableOptions {
  shape?: Shape;
  dtype?: DType;
  requiresGrad?: boolean;
  /** Where to put the value (default: the active backend). */
  backend?: Backend;
}

const VARIABLE_OPTIONS = new Set(['shape', 'dtype', 'requiresGrad', 'backend']);

/**
 * A leaf Variable from host values (numbers, nested arrays, a typed array) or a Tensor (used as
 * is, not copied). `requiresGrad` defaults to false, as in PyTorch.
 *
 * @example
 * ```ts
 * const w = variable([[1, 2], [3, 4]], { requiresGrad: true });   // float32 [2, 2], a leaf
 * const ids = variable([0, 2], { dtype: 'int32' });                 // int32 [2], no gradient
 * const x = variable(randn([4, 2], { seed: 0 }));                   // wraps a Tensor, no copy
 * ```
 */
export function variable(values: number | NestedArray | TypedArray | Tensor, opts: VariableOptions = {}): Variable {
  if (opts === null || typeof opts !== 'object') throw new Error('variable: options must be an object');
  for (const k of Object.keys(opts)) if (!VARIABLE_OPTIONS.has(k)) throw new Error(`variable: unknown option '${k}'`);
  let t: Tensor;
  if (values instanceof TensorClass) {
    if (opts.shape !== undefined || opts.dtype !== undefined)
      throw new Error('variable: shape and dtype options apply to host values, not to a Tensor');
    t = values;
  } else {
    t = tensorOn(opts.backend ?? activeBackend(), values, opts.shape, opts.dtype);
  }
  const requiresGrad = opts.requiresGrad ?? false;
  if (requiresGrad && t.dtype === 'int32')
    throw new Error(
      `variable: an int32 Variable ${shapeString(t.shape)} cannot require grad (only float Variables have gradients)`,
    );
  return new Variable(t, requiresGrad);
}
