import { type Backend, type Storage, type View, viewIsContiguous } from './backend.js';
import type { DType, NestedArray, Shape, TypedArray } from './dtype.js';
import { createFinalizer } from './finalizer.js';
import { formatTensor, inspectCustom } from './format.js';
import { contiguousStrides, shapeString, sizeOf } from './shape.js';

/*
 * The memory model (docs/lifetimes.md tells it whole).
 *
 * A Tensor is a handle on refcounted device storage: views (reshape, slice, transpose, `share()`)
 * are further handles on the same storage, which goes back to the backend's pool (WebGPU) when
 * its last handle is disposed. `memory()` counts live handles and the bytes they hold, exactly:
 * a handle is live until it is disposed, so anything left to the garbage collector shows up as
 * drift. Who disposes what:
 *
 * - The tape (@wgru/autograd). `backward()` frees every intermediate value of the graph it
 *   consumes, and the constants the ops made (scalar operands, masks, indices, an RNN's zero
 *   state) once no recorded op holds them. The root (the loss) keeps its one number on the host:
 *   `await loss.item()` still answers, and its device tensor is freed. What a module's forward
 *   returned to user code stays readable until the next `backward()`. Gradients live in `.grad`
 *   until `zeroGrad()` (the optimizer's, or the module's).
 * - The optimizer keeps its state (moments) and frees its temporaries (`tidy`) every step.
 * - Layers take host data (an Int32Array of token ids, class indices) and free their upload with
 *   the graph, so a training loop written the natural way (forward, loss, backward, step) holds
 *   the same handles at step 2,000 as at step 20 without any dispose() in user code.
 * - Tensors you make yourself are yours: `dispose()`, `using t = tensor(...)` (Tensor, Variable,
 *   Module and optimizers implement `Symbol.dispose`), or `tidy(fn)` to free everything `fn`
 *   made except what it returns. `keep(t)` lets one tensor outlive its tidy.
 * - A FinalizationRegistry (./finalizer.ts) is the last safety net: a handle dropped without dispose()
 *   gives its storage back when the garbage collector notices, at a time no one controls.
 */

/** Live-tensor counts per backend, for `memory()`. */
const liveCounts = new WeakMap<Backend, number>();

export function liveTensorCount(b: Backend): number {
  return liveCounts.get(b) ?? 0;
}

function release(backend: Backend, storage: Storage): void {
  liveCounts.set(backend, (liveCounts.get(backend) ?? 1) - 1);
  storage.refs--;
  if (storage.refs === 0) backend.free(storage);
}

/** Open `tidy` scopes, innermost last: each collects the tensors created while it is open. */
const scopes: Tensor[][] = [];

/**
 * Runs `fn` and disposes every tensor created during it, except those it returns (a tensor, or an
 * array or object of tensors, searched one level deep). For code outside the autograd tape,
 * where nothing else frees temporaries.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2, 3]);
 * const y = tidy(() => mul(add(x, 1), 2)); // the intermediate add(x, 1) is freed
 * await y.data();                          // Float32Array [4, 6, 8]
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const created: Tensor[] = [];
  scopes.push(created);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  // What `fn` returns (a tensor, or an array or object of them) is kept. Scanned as a list: a
  // scope runs for every rule of a backward pass, and most return one to three values.
  const returned: readonly unknown[] =
    result instanceof Tensor
      ? [result]
      : Array.isArray(result)
        ? result
        : result !== null && typeof result === 'object'
          ? Object.values(result)
          : [];
  const kept = returned.length > 16 ? new Set(returned) : returned;
  const outer = scopes[scopes.length - 1];
  for (const t of created) {
    if (kept instanceof Set ? !kept.has(t) : !kept.includes(t)) t.dispose();
    else outer?.push(t); // a returned tensor belongs to the enclosing scope, if any
  }
  return result;
}

/**
 * Removes `t` from the open tidy scopes, so that it outlives them.
 *
 * @example
 * ```ts
 * let running = zeros([3]);
 * tidy(() => {
 *   const next = keep(add(running, 1));   // made inside, kept past the scope
 *   running.dispose();
 *   running = next;
 * });
 * await running.data();                   // Float32Array [1, 1, 1]
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) {
    const i = s.indexOf(t);
    if (i >= 0) s.splice(i, 1);
  }
  return t;
}

/** Host copies of storages' values, where known without a read (see `Tensor.hostValues`). */
const hostCopies = new WeakMap<Storage, TypedArray>();

/** @internal Called before anything writes into `storage`: its host copy is stale from then on. */
export function forgetHostValues(storage: Storage): void {
  hostCopies.delete(storage);
}

/** The last safety net for memory (./finalizer.ts): storage of a tensor collected without dispose(). */
const finalizer = createFinalizer(release);

/** `a` itself if frozen, else a frozen copy. */
function frozen(a: readonly number[]): readonly number[] {
  return Object.isFrozen(a) ? a : Object.freeze([...a]);
}

/**
 * The contiguous strides of a shared (frozen) shape array, computed once per array. A shape the
 * constructor has just copied is new, and not worth remembering.
 */
const stridesOfShape = new WeakMap<readonly number[], readonly number[]>();

function contiguousOf(shape: readonly number[]): readonly number[] {
  let s = stridesOfShape.get(shape);
  if (s === undefined) {
    s = Object.freeze(contiguousStrides(shape));
    stridesOfShape.set(shape, s);
  }
  return s;
}

/**
 * An n-dimensional array of numbers on a backend (a WebGPU device or the CPU). Row-major storage
 * seen through strides and an offset, so that reshape, transpose, slice and broadcast are views
 * sharing their base's storage. Raw ops on tensors are plain functions (`add(a, b)`); no gradient
 * is tracked at this layer.
 *
 * @example
 * ```ts
 * const t = tensor([[1, 2], [3, 4]]);
 * await t.array(); // [[1, 2], [3, 4]]
 * t.dispose();
 * ```
 */
export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly backend: Backend;
  #storage: Storage | null;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(backend: Backend, storage: Storage, shape: Shape, dtype: DType, strides?: readonly number[], offset = 0) {
    this.backend = backend;
    this.#storage = storage;
    // A frozen array cannot change, so it is shared rather than copied (views and elementwise
    // results reuse their operand's shape and strides): ~0.2 us less per tensor.
    this.shape = frozen(shape);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.strides = strides
      ? frozen(strides)
      : this.shape === shape
        ? contiguousOf(shape)
        : Object.freeze(contiguousStrides(shape));
    this.offset = offset;
    storage.refs++;
    liveCounts.set(backend, (liveCounts.get(backend) ?? 0) + 1);
    finalizer.watch(this);
    scopes[scopes.length - 1]?.push(this);
  }

  /**
   * @internal The values, when they are known on the host without a read (int32 tensors made
   * from host data remember them, so that indices can be validated before anything runs). Kept
   * with the storage, so that every view reading it in order sees them, and forgotten when
   * anything writes into the storage (`assign`).
   */
  get hostValues(): TypedArray | undefined {
    const s = this.#storage;
    const h = s === null ? undefined : hostCopies.get(s);
    if (h === undefined || this.offset !== 0 || h.length !== this.size || !viewIsContiguous(this)) return undefined;
    return h;
  }

  set hostValues(values: TypedArray | undefined) {
    if (this.#storage !== null && values !== undefined) hostCopies.set(this.#storage, values);
  }

  /**
   * @internal The values now, without waiting: the host's copy, or a read where the backend reads
   * synchronously (cpu, wasm); undefined where only an asynchronous read can give them (WebGPU).
   */
  get valuesNow(): TypedArray | undefined {
    return this.hostValues ?? this.backend.readSync?.(this.view);
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#storage === null;
  }

  /** @internal The storage, for ops and backends. */
  get storage(): Storage {
    if (this.#storage === null)
      throw new Error(`Tensor ${shapeString(this.shape)} ${this.dtype}: used after dispose()`);
    return this.#storage;
  }

  /** @internal How a backend sees this tensor. */
  get view(): View {
    return { storage: this.storage, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A row-major copy of the elements on the host. The only place the host waits for the device. */
  async data(): Promise<TypedArray> {
    return this.backend.read(this.view);
  }

  /** The elements as nested arrays (a plain number for a scalar). */
  async array(): Promise<NestedArray> {
    const flat = await this.data();
    return nest(flat, this.shape);
  }

  /** A new handle on the same storage and layout (the storage lives until both are disposed). */
  share(): Tensor {
    const t = new Tensor(this.backend, this.storage, this.shape, this.dtype, this.strides, this.offset);
    t.hostValues = this.hostValues;
    return t;
  }

  /** Frees this tensor's hold on its storage. Idempotent. */
  dispose(): void {
    const s = this.#storage;
    if (s === null) return;
    this.#storage = null;
    finalizer.unwatch(this);
    release(this.backend, s);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The values as NumPy prints them (abbreviated past 1,000 elements), with shape, dtype and
   * backend. A WebGPU tensor's values need an asynchronous read: its string says so, and
   * `await t.format()` gives the full one. `console.log(t)` in Node prints this string.
   *
   * @example
   * ```ts
   * String(tensor([[1, 2], [3, 4]]));   // 'Tensor([[1., 2.],\n        [3., 4.]], shape [2, 2], float32, cpu)' on the CPU backend
   * console.log(await tensor([0.5, 1]).format());
   * ```
   */
  toString(): string {
    const backend = this.backend.info.name;
    if (this.disposed) return formatTensor('Tensor', undefined, this.shape, this.dtype, [backend, 'disposed']);
    const values = this.valuesNow;
    const notes = values ? [backend] : [backend, 'values on the device: console.log(await t.format()) prints them'];
    return formatTensor('Tensor', values, this.shape, this.dtype, notes);
  }

  /** `toString()` with the values read from any backend. */
  async format(): Promise<string> {
    return formatTensor('Tensor', await this.data(), this.shape, this.dtype, [this.backend.info.name]);
  }

  /** Node's console.log and util.inspect print `toString()`. */
  [inspectCustom](): string {
    return this.toString();
  }
}

function nest(flat: TypedArray, shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0];
  const build = (axis: number, offset: number, stride: number): NestedArray[] => {
    const n = shape[axis];
    const inner = stride / Math.max(n, 1);
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(axis === shape.length - 1 ? flat[offset + i] : build(axis + 1, offset + i * inner, inner));
    }
    return out;
  };
  return build(0, 0, sizeOf(shape));
}
