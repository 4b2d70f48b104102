/**
 * A pool of worker threads sharing one `WebAssembly.Memory`, for kernels that split their work into
 * independent jobs (matmul panels, ranges of a long elementwise run). `run` is synchronous: it gives
 * jobs 1.. to the workers, runs job 0 on the calling thread, then blocks in `Atomics.wait` until every
 * worker is done. Workers are `unref`ed, so an idle pool never keeps the process alive.
 *
 * A kernel is a function exported by a module that imports the pool's memory as `env.memory`; each
 * thread instantiates the module once, on that same memory, the first time a job names it.
 */
import { DONE, HEADER_WORDS, KERNEL, MAX_ARGS, NARGS, SEQ, SLOT_BYTES, STATUS } from './layout.js';
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
interface NodePort {
  unref(): void;
  close(): void;
  postMessage(message: unknown): void;
}

export class ThreadPool {
  /** Threads that run jobs, the calling thread included. */
  readonly size: number;
  private readonly control: SharedArrayBuffer;
  private readonly slots: { ctl: Int32Array; args: Float64Array; port: NodePort }[] = [];
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
    this.control = new SharedArrayBuffer(SLOT_BYTES * Math.max(1, this.size - 1));
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
        ctl: new Int32Array(this.control, slot * SLOT_BYTES, HEADER_WORDS),
        args: new Float64Array(this.control, slot * SLOT_BYTES + HEADER_WORDS * 4, MAX_ARGS),
        port: port1,
      });
    }
  }

  /**
   * Calls export `fn` of `module` once per entry of `jobs` (its arguments), in parallel: job 0 on the
   * calling thread, job i on worker i-1. At most `size` jobs. Returns when all have finished; throws
   * the first worker error, after every job has ended.
   */
  run(module: WebAssembly.Module, fn: string, jobs: readonly (readonly number[])[]): void {
    if (jobs.length > this.size) throw new Error(`ThreadPool.run: ${jobs.length} jobs for ${this.size} threads`);
    const kernel = this.kernelId(module, fn);
    for (let j = 1; j < jobs.length; j++) {
      const { ctl, args } = this.slots[j - 1];
      const a = jobs[j];
      if (a.length > MAX_ARGS) throw new Error(`ThreadPool.run: ${a.length} arguments, at most ${MAX_ARGS}`);
      ctl[KERNEL] = kernel;
      ctl[NARGS] = a.length;
      args.set(a);
      Atomics.add(ctl, SEQ, 1);
      Atomics.notify(ctl, SEQ);
    }
    let error: unknown;
    try {
      if (jobs.length > 0) (this.instance(module).exports[fn] as (...a: number[]) => void)(...jobs[0]);
    } catch (e) {
      error = e;
    }
    for (let j = 1; j < jobs.length; j++) {
      const { ctl, port } = this.slots[j - 1];
      const seq = Atomics.load(ctl, SEQ);
      for (let done = Atomics.load(ctl, DONE); done !== seq; done = Atomics.load(ctl, DONE)) {
        Atomics.wait(ctl, DONE, done);
      }
      if (ctl[STATUS] !== 0 && error === undefined) {
        const got = this.wt.receiveMessageOnPort(port);
        error = new Error(`ThreadPool: ${fn} failed in a worker: ${got ? String(got.message) : 'unknown error'}`);
      }
    }
    if (error !== undefined) throw error;
  }

  /**
   * Splits `[0, count)` into up to `size` ranges (multiples of `grain` except the last) and runs
   * `fn(start, end, ...args)` on each in parallel; small counts stay on the calling thread. For a
   * long elementwise run: a module exporting `scale(start, end, ptr, factor)` over the float32
   * elements [start, end) runs as `pool.parallelFor(module, 'scale', n, 4096, [ptr, 0.5])`.
   */
  parallelFor(module: WebAssembly.Module, fn: string, count: number, grain: number, args: readonly number[]): void {
    const parts = Math.max(1, Math.min(this.size, Math.floor(count / Math.max(1, grain))));
    const step = Math.ceil(count / parts / grain) * grain;
    const jobs: number[][] = [];
    for (let start = 0; start < count; start += step) jobs.push([start, Math.min(count, start + step), ...args]);
    this.run(module, fn, jobs);
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
