/**
 * Threads for the wasm backend. In Node, a {@link ThreadPool} of `worker_threads` on the backend's
 * shared memory, one thread per core (`WGRU_WASM_THREADS` overrides). In browsers, one thread: the
 * pool blocks the calling thread while workers run, which a page's main thread may not do, and the
 * backend runs there; so there is no pool and kernels run on the calling thread.
 */
import { ThreadPool, type WorkerThreads } from './pool.js';

export { ThreadPool } from './pool.js';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

let node: { wt: WorkerThreads; cores: number } | null = null;

/** Loads what a pool needs (Node's `worker_threads`; nothing in a browser). Call once before {@link threadPoolFor}. */
export async function loadThreads(): Promise<void> {
  if (!isNode || node) return;
  // Kept out of bundlers' sight: these modules exist only in Node.
  const [osName, wtName] = ['node:os', 'node:worker_threads'];
  const os = (await import(/* @vite-ignore */ osName)) as { availableParallelism(): number };
  const wt = (await import(/* @vite-ignore */ wtName)) as unknown as WorkerThreads;
  node = { wt, cores: os.availableParallelism() };
}

/**
 * A pool on `memory` with `threads` threads (default: this machine's cores, or `WGRU_WASM_THREADS`),
 * or `null` where only one thread can run kernels: a browser, one core, `threads` = 1, a memory that
 * is not shared, or {@link loadThreads} not awaited yet. Workers start in the background.
 */
export function threadPoolFor(memory: WebAssembly.Memory, threads?: number): ThreadPool | null {
  if (!node || typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  const fromEnv = Number(process.env.WGRU_WASM_THREADS);
  const n = threads ?? (fromEnv > 0 ? fromEnv : node.cores);
  return n > 1 ? new ThreadPool(memory, n, node.wt) : null;
}

/**
 * {@link loadThreads}, then {@link threadPoolFor}.
 * @example
 * ```ts
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
 * const pool = await createThreadPool(memory, 2);
 * console.log(pool === null || pool.size === 2); // true
 * await pool?.close();
 * ```
 */
export async function createThreadPool(memory: WebAssembly.Memory, threads?: number): Promise<ThreadPool | null> {
  await loadThreads();
  return threadPoolFor(memory, threads);
}
