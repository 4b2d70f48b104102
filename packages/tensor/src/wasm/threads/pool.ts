/**
 * A pool of worker threads sharing one `WebAssembly.Memory`, for kernels that split their work into
 * independent chunks (a matmul's column or row ranges). `run` is synchronous: it offers the job to
 * the workers, runs chunks on the calling thread too, and returns when every chunk is done. Chunks
 * are taken one at a time by whichever thread is free (./layout.ts), so a worker that wakes late
 * costs only its share of the work, never a wait. Workers are `unref`ed, so an idle pool never
 * keeps the process alive.
 *
 * A kernel is a function exported by a module that imports the pool's memory as `env.memory`, called
 * as `fn(chunk, thread, ...args)` (thread 0 is the caller: a kernel may use it to pick its scratch
 * memory); each thread instantiates the module once, on that same memory, the first time a job
 * names it.
 */
import {
  ASLEEP,
  CHUNK_COUNT,
  HEADER_WORDS,
  IDLE,
  JOB_BYTES,
  KERNEL,
  MAX_ARGS,
  NARGS,
  NEXT_CHUNK,
  PENDING,
  RUNNING,
  SLOT_BYTES,
  SPIN_MS,
  STATE,
  STATUS,
  WAITING,
} from './layout.js';
import { workerSource } from './worker-source.js';

/** What the pool needs of Node's `worker_threads` (imported lazily so that browsers never load it). */
export interface WorkerThreads {
  Worker: new (
    source: string,
    options: { eval: true; workerData: unknown; transferList: unknown[] },
  ) => { unref(): void; terminate(): Promise<number> };
  MessageChannel: new () => { port1: NodePort; port2: NodePort };
  receiveMessageOnPort(port: NodePort): { message: unknown } | undefined;
}
interface Slot {
  ctl: Int32Array;
  args: Float64Array;
  port: NodePort;
}
interface NodePort {
  unref(): void;
  close(): void;
  postMessage(message: unknown): void;
}

/**
 * Spins until the worker of `ctl` has finished the job it claimed, then sleeps in `Atomics.wait`
 * once SPIN_MS have passed. It says so in `waiting` first, and reads `state` again after: a worker
 * that finishes in between either sees the flag and notifies, or has set IDLE before the wait reads it.
 */
function waitUntilIdle(ctl: Int32Array): void {
  const until = performance.now() + SPIN_MS;
  for (let spins = 1; Atomics.load(ctl, STATE) !== IDLE; spins++) {
    if ((spins & 255) === 0 && performance.now() > until) {
      Atomics.store(ctl, WAITING, 1);
      Atomics.wait(ctl, STATE, RUNNING);
      Atomics.store(ctl, WAITING, 0);
    }
  }
}

export class ThreadPool {
  /** Threads that run jobs, the calling thread included. */
  readonly size: number;
  private readonly control: SharedArrayBuffer;
  /** [next chunk, chunk count] of the job running. */
  private readonly job: Int32Array;
  private readonly slots: Slot[] = [];
  /** The slots offered the job running (reused: `run` allocates nothing). */
  private readonly offered: Slot[] = [];
  private readonly workers: { terminate(): Promise<number> }[] = [];
  private readonly kernelIds = new Map<WebAssembly.Module, Map<string, number>>();
  private readonly moduleIds = new Map<WebAssembly.Module, number>();
  private readonly local = new Map<WebAssembly.Module, WebAssembly.Instance>();
  private nextKernel = 1;

  /** Starts `threads - 1` workers on `memory` (a shared memory). */
  constructor(
    readonly memory: WebAssembly.Memory,
    threads: number,
    private readonly wt: WorkerThreads,
  ) {
    if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('ThreadPool: memory must be shared');
    this.size = Math.max(1, Math.floor(threads));
    this.control = new SharedArrayBuffer(JOB_BYTES + SLOT_BYTES * Math.max(1, this.size - 1));
    this.job = new Int32Array(this.control, 0, 2);
    for (let slot = 0; slot < this.size - 1; slot++) {
      const { port1, port2 } = new wt.MessageChannel();
      const worker = new wt.Worker(workerSource, {
        eval: true,
        workerData: { memory, control: this.control, port: port2, slot },
        transferList: [port2],
      });
      worker.unref();
      port1.unref();
      this.workers.push(worker);
      this.slots.push({
        ctl: new Int32Array(this.control, JOB_BYTES + slot * SLOT_BYTES, HEADER_WORDS),
        args: new Float64Array(this.control, JOB_BYTES + slot * SLOT_BYTES + HEADER_WORDS * 4, MAX_ARGS),
        port: port1,
      });
    }
  }

  /**
   * Calls export `fn` of `module` as `fn(chunk, thread, ...args)` for every chunk in [0, chunks),
   * spread over the calling thread (thread 0) and up to `chunks - 1` workers (threads 1..), each
   * taking the next chunk when it is free. Returns when all have finished; throws the first error,
   * after every chunk that was started has ended. With `wake` false, only workers that are awake
   * (spinning after a job) are offered it: one woken from `Atomics.wait` claims its chunk 20-50 us
   * later on this VM, and the caller would wait for that chunk, longer than a small job takes. A
   * sleeping worker is still woken, so that it spins for the jobs that follow.
   * For instance, a module exporting `scale(chunk, thread, ptr, n, factor)` over the floats
   * [chunk·n, chunk·n + n) scales 8 × 1024 floats as `pool.run(module, 'scale', 8, [ptr, 1024, 0.5])`.
   */
  run(module: WebAssembly.Module, fn: string, chunks: number, args: readonly number[], wake = true): void {
    if (args.length > MAX_ARGS) throw new Error(`ThreadPool.run: ${args.length} arguments, at most ${MAX_ARGS}`);
    const kernel = this.kernelId(module, fn);
    const offered = this.offered;
    offered.length = 0;
    for (const slot of this.slots) {
      if (offered.length + 1 >= chunks) break;
      if (wake || Atomics.load(slot.ctl, ASLEEP) === 0) offered.push(slot);
      // Not this job, but the ones that follow: a sleeping worker is woken to spin for them.
      else Atomics.notify(slot.ctl, STATE);
    }
    Atomics.store(this.job, NEXT_CHUNK, 0);
    Atomics.store(this.job, CHUNK_COUNT, chunks);
    for (const { ctl, args: slotArgs } of offered) {
      ctl[KERNEL] = kernel;
      ctl[NARGS] = args.length;
      slotArgs.set(args);
      Atomics.store(ctl, STATE, PENDING);
      if (Atomics.load(ctl, ASLEEP) === 1) Atomics.notify(ctl, STATE);
    }
    let error: unknown;
    try {
      const f = this.instance(module).exports[fn] as (...a: number[]) => void;
      for (let c = Atomics.add(this.job, NEXT_CHUNK, 1); c < chunks; c = Atomics.add(this.job, NEXT_CHUNK, 1)) {
        f(c, 0, ...args);
      }
    } catch (e) {
      error = e;
      Atomics.store(this.job, NEXT_CHUNK, chunks); // no more chunks for anyone
    }
    for (const { ctl, port } of offered) {
      // An offer no worker has claimed yet is taken back: its chunks are done.
      if (Atomics.compareExchange(ctl, STATE, PENDING, IDLE) === PENDING) continue;
      waitUntilIdle(ctl);
      if (ctl[STATUS] !== 0) {
        // Read even where the caller failed first, so that it is not taken for a later job's.
        const got = this.wt.receiveMessageOnPort(port);
        error ??= new Error(`ThreadPool: ${fn} failed in a worker: ${got ? String(got.message) : 'unknown error'}`);
      }
    }
    if (error !== undefined) throw error;
  }

  /** Stops the workers (a pool is otherwise kept for the life of its memory). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const s of this.slots) s.port.close();
  }

  /** The calling thread's instance of `module` on the pool's memory. */
  instance(module: WebAssembly.Module): WebAssembly.Instance {
    let inst = this.local.get(module);
    if (!inst) {
      inst = new WebAssembly.Instance(module, { env: { memory: this.memory } });
      this.local.set(module, inst);
    }
    return inst;
  }

  /** The id workers know `module`'s export `fn` by; posts it to every worker the first time. */
  private kernelId(module: WebAssembly.Module, fn: string): number {
    let byFn = this.kernelIds.get(module);
    if (!byFn) this.kernelIds.set(module, (byFn = new Map()));
    let id = byFn.get(fn);
    if (id === undefined) {
      id = this.nextKernel++;
      let moduleId = this.moduleIds.get(module);
      if (moduleId === undefined) this.moduleIds.set(module, (moduleId = this.moduleIds.size + 1));
      for (const s of this.slots) s.port.postMessage({ kernel: id, moduleId, module, fn });
      byFn.set(fn, id);
    }
    return id;
  }
}
