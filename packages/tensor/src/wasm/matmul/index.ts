/**
 * The wasm backend's float32 matrix product: `createSgemm(memory, scratch, pool?)` gives an `Sgemm`
 * that computes `C[m, n] = A[m, k] @ B[k, n] (+ bias[n] on every row)` with the packed, register-
 * blocked SIMD kernels of this folder (`microkernel.ts`, `pack.ts`, `driver.ts`). With a pool, big
 * products are split into column (or row) ranges, one per thread, each packed and multiplied
 * independently; small ones stay on the calling thread. `plain.ts` is the plain version it must
 * agree with.
 */
import type { ThreadPool } from '../threads/pool.js';
import { KC, MC, NC } from './driver.js';
import { GEMV_MAX_ROWS } from './gemv.js';
import { MR, NR } from './microkernel.js';
import { sgemmModule } from './module.js';

/**
 * `C = A @ B (+ bias)`. Addresses are byte offsets into the memory; strides are in elements: A(i, p)
 * is at `aPtr + 4 * (i * aRowStride + p * aColStride)` (a transposed view swaps them), B likewise,
 * C is row-major and contiguous; `biasPtr` 0 means no bias.
 */
export type Sgemm = (
  m: number,
  n: number,
  k: number,
  aPtr: number,
  aRowStride: number,
  aColStride: number,
  bPtr: number,
  bRowStride: number,
  bColStride: number,
  cPtr: number,
  biasPtr: number,
) => void;

/**
 * At most this many rows of A, a row-major B is read in place rather than packed. Measured (us per
 * call, one thread): 1x256 @ 256x768 654 packed vs 19 in place; 8 rows 102 vs 87; 32x128 @ 128x384
 * 87 vs 82; 64x256 @ 256x768 672 vs 723.
 */
const DIRECT_MAX_ROWS = 32;

/**
 * Multiply-adds below which a product runs on the calling thread. A split product's chunks go to
 * whichever thread is free (threads/pool.ts), so a worker that is slow to wake costs nothing but
 * its share; 1M MACs (~40 us of work on one core) keeps the GRU's recurrent products (h U at B = 32,
 * H = 128: 1.5M MACs) on both cores.
 */
const PARALLEL_MIN_MACS = 1 << 20;

/**
 * Multiply-adds from which a product also wakes sleeping workers; smaller ones go only to workers
 * still spinning after a job. Waking one costs the caller ~20 us (measured: a tiny product split
 * over a sleeping pool, 18-21 us a call; over a spinning one, 2.4 us), ~0.5M MACs of work.
 */
const WAKE_MIN_MACS = 1 << 22;

/** Chunks per thread of a split product: a thread that starts late leaves the others less to wait for. */
const CHUNKS_PER_THREAD = 2;

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

/** Scratch bytes for one thread's share [m, n, k]: packed B block, packed A block, an edge tile. */
function scratchLayout(m: number, n: number, k: number): { a: number; tile: number; bytes: number } {
  const b = 4 * Math.min(k, KC) * roundUp(Math.min(n, NC), NR);
  const a = 4 * Math.min(k, KC) * roundUp(Math.min(m, MC), MR);
  return { a: b, tile: b + a, bytes: roundUp(b + a + 4 * MR * NR, 16) };
}

/**
 * @param memory the memory every pointer refers to (shared, for a pool)
 * @param scratch returns a 16-byte aligned offset of `bytes` bytes, valid until the next call
 * @param pool worker threads on `memory`, or null for one thread
 * @param parallelMinMacs products with fewer multiply-adds stay on the calling thread
 * @example
 * ```ts
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
 * const sgemm = createSgemm(memory, () => 4096);
 * const f32 = new Float32Array(memory.buffer);
 * f32.set([1, 2, 3, 4], 0); // A = [[1, 2], [3, 4]] at byte 0
 * f32.set([1, 0, 0, 1], 4); // B = identity at byte 16
 * sgemm(2, 2, 2, 0, 2, 1, 16, 2, 1, 32, 0); // C at byte 32
 * console.log(Array.from(f32.subarray(8, 12))); // [1, 2, 3, 4]
 * ```
 */
export function createSgemm(
  memory: WebAssembly.Memory,
  scratch: (bytes: number) => number,
  pool: ThreadPool | null = null,
  parallelMinMacs = PARALLEL_MIN_MACS,
): Sgemm {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const { module } = sgemmModule(shared);
  const instance = pool ? pool.instance(module) : new WebAssembly.Instance(module, { env: { memory } });
  const run = instance.exports.sgemm as (...args: number[]) => void;
  const gemv = instance.exports.gemv as (...args: number[]) => void;
  return (m, n, k, a, ars, acs, b, brs, bcs, c, bias) => {
    if (m === 0 || n === 0) return;
    if (k === 0) {
      const f32 = new Float32Array(memory.buffer);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) f32[c / 4 + i * n + j] = bias ? f32[bias / 4 + j] : 0;
      }
      return;
    }
    // One row (generating a token): on the calling thread. Split over the pool it was 3x slower
    // (a token at H = 256: 0.074 ms on one thread, 0.22 ms split; waking a worker costs more than
    // the product, ~25 us).
    if (m <= GEMV_MAX_ROWS && bcs === 1) {
      gemv(m, n, k, a, ars, acs, b, brs, c, n, bias);
      return;
    }
    const direct = (rows: number) => (bcs === 1 && rows <= DIRECT_MAX_ROWS ? 1 : 0);
    if (!pool || m * n * k < parallelMinMacs) {
      const layout = scratchLayout(m, n, k);
      const s = scratch(layout.bytes);
      run(m, n, k, a, ars, acs, b, brs, bcs, c, n, bias, s, s + layout.a, s + layout.tile, direct(m));
      return;
    }
    // Chunks of the wider side of C, whole micro-tiles each, CHUNKS_PER_THREAD per thread: whichever
    // thread is free takes the next, so a worker that wakes late leaves its chunks to the others.
    const byColumns = n >= m;
    const tile = byColumns ? NR : MR;
    const span = byColumns ? n : m;
    const chunks = Math.max(1, Math.min(pool.size * CHUNKS_PER_THREAD, Math.floor(span / tile)));
    const step = roundUp(Math.ceil(span / chunks), tile);
    const rows = byColumns ? m : step;
    const layout = scratchLayout(rows, byColumns ? step : n, k);
    const s = scratch(layout.bytes * pool.size);
    const wake = m * n * k >= WAKE_MIN_MACS;
    // sgemmChunk's arguments after (chunk, thread): how C is cut, the scratch layout, then sgemm's.
    const args = [byColumns ? 1 : 0, step, span, layout.bytes, layout.a, layout.tile];
    args.push(m, n, k, a, ars, acs, b, brs, bcs, c, n, bias, s, direct(rows));
    pool.run(module, 'sgemmChunk', Math.ceil(span / step), args, wake);
  };
}
