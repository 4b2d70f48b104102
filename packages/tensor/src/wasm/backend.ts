import {
  type Backend,
  type BackendInfo,
  type EngineStats,
  type GruCellArgs,
  type ReduceOp,
  type Storage,
  type View,
  viewIsContiguous,
} from '../backend.js';
import { CpuBackend } from '../cpu/backend.js';
import { allocHost, type DType, type TypedArray } from '../dtype.js';
import { type Expr, inputLeaf } from '../expr.js';
import { normalFromBits, seedKey } from '../random/philox.js';
import { contiguousStrides } from '../shape.js';
import { WasmElementwise } from './elementwise.js';
import { WasmHeap, WasmStorage } from './heap.js';
import { hostView } from './host.js';
import { WasmIndexing } from './indexing.js';
import { WasmReduce } from './reduce.js';
import { createPhilox, type Philox } from './kernels/philox.js';
import { createSgemm, type Sgemm } from './matmul/index.js';
import { type ThreadPool, threadPoolFor } from './threads/index.js';
import { matmulWasm } from './batched-matmul.js';
import { gruCellWasm } from './gru-cell.js';

const IDENTITY = (dtype: DType): Expr => inputLeaf(0, dtype);

/** Whether `v` walks the same elements as `out` in the same order. */
function sameView(v: View, out: View): boolean {
  if (v.offset !== out.offset || v.shape.length !== out.shape.length) return false;
  for (let i = 0; i < out.shape.length; i++) if (v.strides[i] !== out.strides[i] && out.shape[i] !== 1) return false;
  return true;
}

/**
 * The WebAssembly backend: float32 and int32 tensors in one shared `WebAssembly.Memory`, with
 * elementwise expressions compiled to SIMD kernels (one module per expression structure, cached)
 * and a SIMD sgemm. Synchronous: every op runs when it is called.
 */
export class WasmBackend implements Backend {
  readonly info: BackendInfo = { name: 'wasm' };
  readonly stats: EngineStats = { dispatches: 0, submits: 0, uploads: 0, reads: 0, bindGroups: 0 };
  readonly maxBufferBytes = 2 ** 30;
  readonly heap = new WasmHeap();
  /** Worker threads on the heap's memory (Node, shared memory, more than one core), else null. */
  readonly pool: ThreadPool | null = threadPoolFor(this.heap.memory);
  readonly elementwise = new WasmElementwise(this.heap, this.pool);
  private sgemmKernel: Sgemm | null = null;
  private philox: Philox | null = null;
  private readonly reducer = new WasmReduce(this.heap);
  private readonly indexing = new WasmIndexing(this.heap);
  /** The CPU backend's loops, run in place over this memory for the ops not yet in wasm. */
  private readonly host = new CpuBackend();
  private scratchBlock = { ptr: 0, capacity: 0 };

  /** The matmul kernel (compiled on first use). */
  get sgemm(): Sgemm {
    this.sgemmKernel ??= createSgemm(this.heap.memory, (bytes) => this.scratch(bytes), this.pool);
    return this.sgemmKernel;
  }

  /** A 64-byte aligned scratch area of at least `bytes`, valid until the next call. */
  scratch(bytes: number): number {
    if (bytes > this.scratchBlock.capacity) {
      if (this.scratchBlock.ptr) this.heap.release(this.scratchBlock.ptr, this.scratchBlock.capacity);
      this.scratchBlock = this.heap.malloc(bytes);
    }
    return this.scratchBlock.ptr;
  }

  supports(dtype: DType): boolean {
    return dtype === 'float32' || dtype === 'int32';
  }

  alloc(dtype: DType, size: number): WasmStorage {
    if (!this.supports(dtype)) throw new Error(`wasm backend: ${dtype} is not supported (float32 and int32 are)`);
    const bytes = size * 4;
    const { ptr, capacity } = this.heap.malloc(bytes);
    return new WasmStorage(ptr, bytes, capacity, dtype);
  }

  upload(data: TypedArray): Storage {
    const dtype: DType = data instanceof Int32Array ? 'int32' : 'float32';
    if (data instanceof Float64Array) throw new Error('wasm backend: float64 is not supported (float32 and int32 are)');
    const s = this.alloc(dtype, data.length);
    this.heap.view(dtype).set(data, s.ptr / 4);
    this.stats.uploads++;
    return s;
  }

  free(storage: Storage): void {
    const s = storage as WasmStorage;
    this.heap.release(s.ptr, s.capacity);
  }

  async read(view: View): Promise<TypedArray> {
    this.stats.reads++;
    return this.readSync(view);
  }

  /** A row-major copy of `view` on the host, now. */
  readSync(view: View): TypedArray {
    const size = view.shape.reduce((a, b) => a * b, 1);
    const start = (view.storage as WasmStorage).ptr / 4 + view.offset;
    const all = this.heap.view(view.dtype);
    if (viewIsContiguous(view)) return all.slice(start, start + size);
    const out = allocHost(view.dtype, size);
    const tmp = this.alloc(view.dtype, size);
    this.map(IDENTITY(view.dtype), [view], this.contiguous(tmp, view.shape));
    out.set(all.subarray(tmp.ptr / 4, tmp.ptr / 4 + size));
    this.free(tmp);
    return out;
  }

  /** A contiguous view of all of `storage` with `shape`. */
  contiguous(storage: Storage, shape: readonly number[]): View {
    return { storage, dtype: storage.dtype, shape, strides: contiguousStrides(shape), offset: 0 };
  }

  map(expr: Expr, inputs: readonly View[], out: View): void {
    this.stats.dispatches++;
    this.run(expr, inputs, out);
  }

  /** map() without counting a dispatch (for the parts of a fused op). */
  run(expr: Expr, inputs: readonly View[], out: View): void {
    let n = 1;
    for (const d of out.shape) n *= d;
    if (n === 0) return;
    // An input that is exactly the output's view is read before each element is written
    // (in-place is safe); any other overlap goes through a temporary.
    let overlap = false;
    for (const v of inputs) if (v.storage === out.storage && !sameView(v, out)) overlap = true;
    if (overlap) {
      const tmp = this.alloc(out.dtype, n);
      const tv = this.contiguous(tmp, out.shape);
      this.elementwise.map(expr, inputs, tv);
      this.elementwise.map(IDENTITY(out.dtype), [tv], out);
      this.free(tmp);
      return;
    }
    this.elementwise.map(expr, inputs, out);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
    this.stats.dispatches++;
    if (!this.reducer.run(op, x, axes, out))
      this.host.reduce(op, hostView(this.heap, x), axes, hostView(this.heap, out));
  }

  matmul(a: View, b: View, out: View, bias: View | null = null): void {
    this.stats.dispatches++;
    if (out.dtype === 'int32') {
      this.host.matmul(
        hostView(this.heap, a),
        hostView(this.heap, b),
        hostView(this.heap, out),
        bias && hostView(this.heap, bias),
      );
      return;
    }
    matmulWasm(this, a, b, out, bias);
  }

  gather(x: View, indices: View, axis: number, out: View): void {
    this.stats.dispatches++;
    if (this.indexing.gather(x, indices, axis, out)) return;
    this.host.gather(hostView(this.heap, x), hostView(this.heap, indices), axis, hostView(this.heap, out));
  }

  scatterAdd(src: View, indices: View, axis: number, out: View): void {
    this.stats.dispatches++;
    if (this.indexing.scatterAdd(src, indices, axis, out)) return;
    this.host.scatterAdd(hostView(this.heap, src), hostView(this.heap, indices), axis, hostView(this.heap, out));
  }

  random(kind: 'uniform' | 'normal', seed: number, out: View): void {
    this.stats.dispatches++;
    const [k0, k1] = seedKey(seed);
    const size = out.shape.reduce((a, b) => a * b, 1);
    this.philox ??= createPhilox(this.heap.memory);
    const tmp = this.alloc('float32', kind === 'uniform' ? size : 2 * size);
    this.philox(tmp.ptr, size, k0, k1, kind === 'uniform' ? 0 : 1);
    if (kind === 'normal') {
      // Box–Muller from the two words, in float64 as on the CPU, rounded as stored
      const { i32: I, f32: F } = this.heap;
      const base = tmp.ptr / 4;
      for (let i = 0; i < size; i++) F[base + i] = normalFromBits(I[base + 2 * i], I[base + 2 * i + 1]);
    }
    this.elementwise.map(IDENTITY('float32'), [this.contiguous(tmp, out.shape)], out);
    this.free(tmp);
  }

  gruCell(args: GruCellArgs): void {
    this.stats.dispatches++;
    gruCellWasm(this, args);
  }

  flush(): void {}

  memory(): { bytesInUse: number; bytesPooled: number } {
    return { bytesInUse: this.heap.bytesInUse, bytesPooled: this.heap.bytesPooled };
  }

  destroy(): void {}
}
