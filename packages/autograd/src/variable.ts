import { type DType, type NestedArray, type Shape, shapeString, type Tensor, inspectCustom } from '@wgru/tensor';
import { checkAnomalies, hasPendingAnomalies } from './anomaly.js';
import { backwardArgs, noteRetained, seedGradient } from './backward-options.js';
import { type BackwardOptions, backward as runBackward, type Node } from './graph.js';
import * as F from './functions.js';
import { argmax, argmin } from './indices.js';
import { keepRoot, releaseConstants } from './lifetimes.js';
import { type MovedValue, variableString } from './print.js';
import { reportBorn } from './trace.js';

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
   * @internal For a constant the library made for the graph (see ./lifetimes.ts): the holds on it,
   * one per recorded op reading it (and its maker's, for a shared one); it is freed when they end.
   * Null for every other Variable.
   */
  holds: number | null = null;
  /** @internal User code may hold it (see ./lifetimes.ts): backward() keeps it until the next one. */
  isOutput = false;
  /** A one-element root of a backward() that consumed its graph: its host copy, under way. */
  #hostCopy: MovedValue | null = null;
  /**
   * @internal A one-element root after the backward() that followed its own: its value was copied
   * to the host and the device tensor freed (see `retire`). Shape and dtype are kept.
   */
  #moved: MovedValue | null = null;

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
          `Variable ${shapeString(this.#moved.shape)}: the next backward() moved this loss value to the host and freed its device tensor; ` +
            'read it with await item() or data()',
        );
      }
      throw new Error(
        'Variable: its value was freed by backward() (what your code made, and what a module returned to it, stays readable ' +
          "until the next backward(); a module's intermediates do not); " +
          'read intermediate values before backward(), or call backward({ retainGraph: true })',
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

  /** A loss's number on the host, where backward() copied it there (see `#startHostCopy`). */
  get #onHost(): MovedValue | null {
    return this.#moved ?? this.#hostCopy;
  }

  /** A row-major copy of the value on the host. In anomaly mode, first reports any pending NaN/Inf. */
  async data(): Promise<Float32Array | Float64Array> {
    if (hasPendingAnomalies()) await checkAnomalies();
    const d = await (this.#onHost?.host ?? this.value.data());
    return d instanceof Int32Array ? Float32Array.from(d) : d;
  }

  async array(): Promise<NestedArray> {
    if (hasPendingAnomalies()) await checkAnomalies();
    const onHost = this.#onHost;
    if (onHost) {
      // One element, nested as deep as the shape ([1, 1] -> [[v]]), as Tensor.array() gives it.
      const one = (await onHost.host)[0];
      return onHost.shape.reduce<NestedArray>((inner) => [inner], one);
    }
    return this.value.array();
  }

  /** The single value of a one-element Variable. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new Error(`item: needs a Variable with one element, got shape ${shapeString(this.shape)}`);
    if (hasPendingAnomalies()) await checkAnomalies();
    return (await (this.#onHost?.host ?? this.value.data()))[0];
  }

  /**
   * Accumulates d(this)/d(leaf) into `.grad` of every leaf that requires it. `gradient` is the
   * seed (required unless this Variable has a single element). Frees the graph's intermediate
   * values unless `retainGraph`. The options may also come alone: `backward({ retainGraph: true })`.
   *
   * @example
   * ```ts
   * const x = variable([1, 2], { requiresGrad: true });
   * const y = x.mul(x).sum();
   * y.backward({ retainGraph: true });   // keep the graph for a second pass
   * y.backward();                        // accumulates, and frees the graph
   * await x.grad!.data();                // Float32Array [4, 8]
   * ```
   */
  backward(opts: BackwardOptions): void;
  backward(gradient?: Tensor, opts?: BackwardOptions): void;
  backward(first?: Tensor | BackwardOptions, second?: BackwardOptions): void {
    const { gradient, opts } = backwardArgs(first, second);
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
    // Before anything changes: a loop that never yields is stopped here, with all its state intact.
    this.value.backend.checkQueue?.();
    const seed = seedGradient(this.value, gradient);
    const madeByOp = this.node !== null;
    try {
      runBackward(this, seed, opts);
    } finally {
      if (seed !== gradient) seed.dispose();
    }
    noteRetained(opts.retainGraph === true);
    // The loss stays readable until the next backward, which frees it (./lifetimes.ts); nothing
    // else would ever free it in a loop that never disposes. A one-element loss keeps its number,
    // on the host: `item()`, `data()` and `array()` still answer after that.
    if (madeByOp && !opts.retainGraph) {
      if (this.size === 1) this.#startHostCopy();
      keepRoot(this);
    }
  }

  /** @internal The next backward is here: frees the value (a loss keeps its number, on the host). */
  retire(): void {
    if (this.#hostCopy !== null && this.#value !== null) {
      this.#moved = this.#hostCopy;
      this.#hostCopy = null;
    }
    this.freeValue();
  }

  /**
   * Starts copying the one-element value to the host (see `backward`): the read is recorded now,
   * with the step's work, and the device tensor is freed later, by `retire`.
   */
  #startHostCopy(): void {
    const t = this.#value;
    if (t === null) return;
    const host = t.data();
    const copy: MovedValue = { host, shape: t.shape, dtype: t.dtype };
    host.then((v) => (copy.values = v)).catch(() => undefined); // a failed read is reported when the value is read
    this.#hostCopy = copy;
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

  /**
   * @internal Called by backward on each consumed node: drops the node and the constants it holds,
   * and frees the value, unless this is the root or an output (see ./lifetimes.ts).
   */
  release(isRoot: boolean): void {
    if (this.node === null) return;
    releaseConstants(this.node);
    this.freed = { op: this.node.op, shape: this.#value?.shape ?? [] };
    this.node = null;
    if (!isRoot && !this.isOutput) this.freeValue();
  }

  /** @internal Frees the value; reading it afterwards throws. */
  freeValue(): void {
    this.#value?.dispose();
    this.#value = null;
  }

  /**
   * The values as NumPy prints them (abbreviated past 1,000 elements), with shape, dtype, backend,
   * `requiresGrad` and the op that made it. A WebGPU value needs an asynchronous read: the string
   * says so, and `await v.format()` gives the full one. `console.log(v)` in Node prints this.
   *
   * @example
   * ```ts
   * const w = variable([[1, 2], [3, 4]], { requiresGrad: true });
   * console.log(String(w.mul(2)));     // on the CPU backend: Variable([[2., 4.],
   *                                     //   [6., 8.]], shape [2, 2], float32, cpu, requiresGrad, made by mul)
   * console.log(await w.format());      // the values, read from any backend
   * ```
   */
  toString(): string {
    return variableString(this, this.#value, this.#moved);
  }

  /** `toString()` with the values read from any backend. */
  async format(): Promise<string> {
    const where = this.#moved ? 'host' : this.value.backend.info.name;
    const values = await (this.#onHost?.host ?? this.value.data());
    return variableString(this, this.#value, { shape: this.shape, dtype: this.dtype, values }, where);
  }

  /** Node's console.log and util.inspect print `toString()`. */
  [inspectCustom](): string {
    return this.toString();
  }

  /** Index of the largest value, int32 and without gradient: see {@link argmax}. */
  argmax(axis?: number, keepDims = false): Variable {
    return argmax(this, axis, keepDims);
  }
  /** Index of the smallest value, int32 and without gradient: see {@link argmin}. */
  argmin(axis?: number, keepDims = false): Variable {
    return argmin(this, axis, keepDims);
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
