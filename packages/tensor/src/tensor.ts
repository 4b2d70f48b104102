import type { Backend, Storage, View } from './backend.js';
import type { DType, NestedArray, Shape, TypedArray } from './dtype.js';
import { contiguousStrides, shapeString, sizeOf } from './shape.js';

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

/**
 * The last safety net for memory: a tensor that becomes unreachable without `dispose()` gives its
 * storage back when the garbage collector notices. Explicit disposal (or the tape, or `scope`)
 * is still the way to keep memory tight.
 */
const finalizer = new FinalizationRegistry<{ backend: Backend; storage: Storage }>(({ backend, storage }) =>
  release(backend, storage),
);

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
  /**
   * @internal The values, when they are known on the host without a read (int32 tensors made
   * from host data remember them, so that indices can be validated before anything runs).
   */
  hostValues: TypedArray | undefined;
  #storage: Storage | null;
  readonly #token = {};

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(backend: Backend, storage: Storage, shape: Shape, dtype: DType, strides?: readonly number[], offset = 0) {
    this.backend = backend;
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    storage.refs++;
    liveCounts.set(backend, (liveCounts.get(backend) ?? 0) + 1);
    finalizer.register(this, { backend, storage }, this.#token);
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#storage === null;
  }

  /** @internal The storage, for ops and backends. */
  get storage(): Storage {
    if (this.#storage === null) throw new Error(`Tensor ${shapeString(this.shape)} ${this.dtype}: used after dispose()`);
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

  /** Frees this tensor's hold on its storage. Idempotent. */
  dispose(): void {
    const s = this.#storage;
    if (s === null) return;
    this.#storage = null;
    finalizer.unregister(this.#token);
    release(this.backend, s);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${shapeString(this.shape)}, ${this.dtype}, ${this.backend.info.name})`;
  }
}

function nest(flat: TypedArray, shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0] as number;
  const build = (axis: number, offset: number, stride: number): NestedArray[] => {
    const n = shape[axis] as number;
    const inner = stride / Math.max(n, 1);
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(axis === shape.length - 1 ? (flat[offset + i] as number) : build(axis + 1, offset + i * inner, inner));
    }
    return out;
  };
  return build(0, 0, sizeOf(shape));
}
