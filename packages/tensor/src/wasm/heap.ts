/**
 * The wasm backend's memory: ONE `WebAssembly.Memory`, shared where it can be (see SHARED),
 * and a pooled allocator over it. Blocks are handed out in size classes (four per power of two,
 * from 64 bytes), 64-byte aligned; a freed block goes to its class's free list and is reused by
 * the next request of that class. Memory grows when no free block fits and never shrinks (wasm
 * memory cannot), so pooled bytes stay reserved. Byte offset 0 is never allocated: 0 means "none".
 * @module
 */
import type { DType, TypedArray } from '../dtype.js';
import type { Storage } from '../backend.js';

const PAGE = 65536;

/**
 * Whether the memory is shared (so that worker threads can use it): wherever SharedArrayBuffer
 * exists, which in a browser means a cross-origin isolated page. Elsewhere it is a plain memory,
 * and the backend runs on one thread.
 */
export const SHARED =
  typeof SharedArrayBuffer !== 'undefined' &&
  (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
/** 2 GiB: every byte offset fits an i32, and typed-array offsets stay exact. */
export const MAX_PAGES = 32768;
const ALIGN = 64;

/** Storage on the wasm backend: a block of the shared memory. */
export class WasmStorage implements Storage {
  refs = 0;
  constructor(
    /** Byte offset of the first element. */
    readonly ptr: number,
    readonly byteLength: number,
    /** Bytes reserved (the size class). */
    readonly capacity: number,
    readonly dtype: DType,
  ) {}
}

/** The size class of a request: the next of 1, 1.25, 1.5, 1.75 times a power of two (>= 64). */
export function sizeClass(bytes: number): number {
  if (bytes <= ALIGN) return ALIGN;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(p / 4, ALIGN);
  return Math.ceil(bytes / step) * step;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private top = ALIGN; // offset 0 stays unused
  private readonly free = new Map<number, number[]>();
  bytesInUse = 0;
  bytesPooled = 0;
  f32: Float32Array;
  i32: Int32Array;

  constructor(initialPages = 16) {
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: SHARED });
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** Reserves `bytes` (at least 1) and returns the block's byte offset, 64-byte aligned. */
  malloc(bytes: number): { ptr: number; capacity: number } {
    const capacity = sizeClass(Math.max(bytes, 1));
    const reused = this.free.get(capacity)?.pop();
    this.bytesInUse += capacity;
    if (reused !== undefined) {
      this.bytesPooled -= capacity;
      return { ptr: reused, capacity };
    }
    const ptr = this.top;
    this.ensure(ptr + capacity);
    this.top = ptr + capacity;
    return { ptr, capacity };
  }

  /** Returns a block to its size class's free list. */
  release(ptr: number, capacity: number): void {
    this.bytesInUse -= capacity;
    this.bytesPooled += capacity;
    let list = this.free.get(capacity);
    if (!list) {
      list = [];
      this.free.set(capacity, list);
    }
    list.push(ptr);
  }

  /** Grows the memory to hold `end` bytes and refreshes the typed views. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const need = Math.ceil((end - have) / PAGE);
    const grow = Math.max(need, Math.min(have / PAGE, MAX_PAGES - have / PAGE)); // at least double
    if (have / PAGE + need > MAX_PAGES)
      throw new Error(`wasm backend: out of memory (${end} bytes needed, at most ${MAX_PAGES * PAGE})`);
    this.memory.grow(grow);
    this.refresh();
  }

  /** Re-creates the typed views after the memory grew (here or, later, in a worker). */
  refresh(): void {
    if (this.f32.buffer.byteLength === this.memory.buffer.byteLength) return;
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** The typed view for `dtype` over the whole memory. */
  view(dtype: DType): TypedArray {
    return dtype === 'int32' ? this.i32 : this.f32;
  }
}
