/**
 * Threads for the wasm backend. In Node, a {@link ThreadPool} of `worker_threads` on the backend's
 * shared memory, one thread per core (`WGRU_WASM_THREADS` overrides). In browsers, one thread: the
 * pool blocks the calling thread while workers run, which a page's main thread may not do, and the
 * backend runs there; so `createThreadPool` gives `null` and kernels run on the calling thread.
 */
import { ThreadPool, type WorkerThreads } from './pool.js';

export { ThreadPool } from './pool.js';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * A pool on `memory` with `threads` threads (default: this machine's cores), or `null` where only
 * one thread can run kernels (a browser, one core, or `threads` = 1).
 * @example
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
 * const pool = await createThreadPool(memory, 2);
 * console.log(pool === null || pool.size === 2); // true
 */
export async function createThreadPool(memory: WebAssembly.Memory, threads?: number): Promise<ThreadPool | null> {
  if (!isNode) return null;
  const os = (await import(/* @vite-ignore */ 'node:os')) as { availableParallelism(): number };
  const fromEnv = Number(process.env.WGRU_WASM_THREADS);
  const n = threads ?? (fromEnv > 0 ? fromEnv : os.availableParallelism());
  if (n <= 1) return null;
  const wt = (await import(/* @vite-ignore */ 'node:worker_threads')) as unknown as WorkerThreads;
  return new ThreadPool(memory, n, wt);
}
