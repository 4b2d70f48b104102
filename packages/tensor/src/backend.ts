import type { DType, Shape, TypedArray } from './dtype.js';
import type { Expr } from './expr.js';

/** What `backend()` reports about the active backend. */
export interface BackendInfo {
  name: 'webgpu' | 'cpu' | 'wasm';
  adapter?: { vendor: string; architecture: string; description: string };
  featureLevel?: 'core' | 'compatibility';
  /** WebGPU: the optional features in use ('subgroups', 'shader-f16'), where the adapter has them. */
  features?: readonly string[];
}

/** A block of device memory owned by one backend, shared by a tensor and its views. */
export interface Storage {
  readonly byteLength: number;
  readonly dtype: DType;
  /** Number of live tensors (views included) that use this storage. */
  refs: number;
}

/** A strided window onto a storage: how an op sees one of its operands. */
export interface View {
  readonly storage: Storage;
  readonly dtype: DType;
  readonly shape: Shape;
  /** Elements to step per index of each axis; 0 on broadcast axes. */
  readonly strides: readonly number[];
  /** First element, in elements from the start of the storage. */
  readonly offset: number;
}

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin' | 'prod';

/**
 * Operands of the fused GRU cell. With `W`, `x` is the raw input [B, I] and x W + b is computed
 * inside; without it, `x` is already x W + b, [B, 3H]. Gates are stacked z | r | h.
 */
export interface GruCellArgs {
  x: View;
  W: View | null;
  b: View | null;
  h: View;
  U: View;
  c: View | null;
  resetAfter: boolean;
  out: View;
}

/** Counters that tests and benchmarks read to check batching. */
export interface EngineStats {
  dispatches: number;
  submits: number;
  uploads: number;
  reads: number;
  /** Bind groups made (WebGPU): each lives until the garbage collector finalizes it. */
  bindGroups: number;
}

/**
 * The small interface every backend implements. The tensor layer validates arguments, computes
 * result shapes, and turns broadcasting and movement ops into views before calling it, so a
 * backend only ever sees operands of matching shapes.
 */
export interface Backend {
  readonly info: BackendInfo;
  readonly stats: EngineStats;
  /** The largest tensor, in bytes, this backend can hold and run kernels on. */
  readonly maxBufferBytes: number;
  supports(dtype: DType): boolean;
  /** Uninitialised storage for `size` elements. */
  alloc(dtype: DType, size: number): Storage;
  upload(data: TypedArray): Storage;
  /** Returns the storage to the backend (pooled); called when its last view is disposed. */
  free(storage: Storage): void;
  /** A row-major copy of the view's elements on the host. */
  read(view: View): Promise<TypedArray>;
  /**
   * The same copy, at once, on a backend whose storage is host memory (cpu, wasm); absent
   * where a read must wait for a device (WebGPU). Counts no read: printing a tensor uses it.
   */
  readSync?(view: View): TypedArray;
  /** out[i] = expr(inputs[0][i], inputs[1][i], ...) for every index i of out.shape. */
  map(expr: Expr, inputs: readonly View[], out: View): void;
  /** Reduce `x` over the sorted `axes`; `out` is contiguous with the reduced axes removed. */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void;
  /**
   * out = a @ b over the last two axes; a: [...batch, m, k], b: [...batch, k, n], out contiguous.
   * With `bias` ([n]), out = a @ b + bias, the bias added to every row as the results are stored.
   */
  matmul(a: View, b: View, out: View, bias?: View | null): void;
  /**
   * numpy.take: out = x indexed by int32 `indices` along `axis`. An index j in [-dim, 0) means
   * j + dim. Indices known on the host were range-checked by the caller; one computed on the
   * device and out of range reads 0 (no out-of-bounds access, and the same on every backend).
   */
  gather(x: View, indices: View, axis: number, out: View): void;
  /**
   * The adjoint of gather: out (zeroed by the caller) += src scattered by `indices` along `axis`.
   * Negative indices wrap as in gather; out-of-range ones add nothing.
   */
  scatterAdd(src: View, indices: View, axis: number, out: View): void;
  /** Philox-4x32-10 counter-based random numbers: same seed, same bits on every backend. */
  random(kind: 'uniform' | 'normal', seed: number, out: View): void;
  /**
   * The fused GRU cell for inference (no tape): one kernel per step. See ops/recurrent.ts for the
   * equations; the composed, differentiable GRUCell in @wgru/nn is its oracle.
   */
  gruCell(args: GruCellArgs): void;
  /** Submits pending work (a no-op on synchronous backends). */
  flush(): void;
  /**
   * Called at the start of `backward()`, a point where throwing leaves every tensor as it was:
   * a backend whose queue must not grow without the event loop turning throws there (WebGPU).
   */
  checkQueue?(): void;
  memory(): { bytesInUse: number; bytesPooled: number };
  /** Releases device resources; the backend is unusable afterwards. */
  destroy(): void;
}

export function viewIsContiguous(v: { shape: Shape; strides: readonly number[] }): boolean {
  let s = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    const d = v.shape[i];
    if (d !== 1 && v.strides[i] !== s) return false;
    s *= d;
  }
  return true;
}
