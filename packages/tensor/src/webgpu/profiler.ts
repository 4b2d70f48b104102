import type { Command } from './engine.js';

/** Device time spent in one op's kernels while profiling. */
export interface KernelTime {
  /** The op that recorded the kernels ('matmul', 'sigmoid, add, mul', 'gruCell', ...). */
  op: string;
  /** Kernels run. */
  count: number;
  /** Their summed device time, in milliseconds. */
  ms: number;
}

/** What the engine asks of the profiler for one batch. */
export interface BatchProfile {
  /** The timestamp writes for the pass of dispatch `i`. */
  writes(i: number): GPUComputePassTimestampWrites;
  /** Records the resolve of the batch's timestamps into a readable buffer. */
  resolve(encoder: GPUCommandEncoder): void;
  /** After the submit: reads the timestamps when the batch is done and adds them up. */
  collect(): void;
}

/**
 * Device time per op, from timestamp queries: while it is on, every dispatch gets a compute pass
 * of its own with a timestamp at its start and end (so a profiled run is slower than a normal
 * one; compare ops within it, not with unprofiled timings). Needs the adapter's
 * 'timestamp-query' feature (browsers may quantise the values).
 */
export class KernelProfiler {
  private readonly times = new Map<string, KernelTime>();
  private readonly pending: Promise<void>[] = [];

  begin(device: GPUDevice, cmds: readonly Command[]): BatchProfile | null {
    const ops = cmds.filter((c) => c.kind === 'dispatch').map((c) => c.op);
    if (ops.length === 0) return null;
    const count = 2 * ops.length;
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolved = device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readable = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    return {
      writes: (i) => ({ querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 }),
      resolve: (encoder) => {
        encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
        encoder.copyBufferToBuffer(resolved, 0, readable, 0, count * 8);
      },
      collect: () => {
        this.pending.push(
          readable.mapAsync(GPUMapMode.READ).then(() => {
            const t = new BigInt64Array(readable.getMappedRange());
            ops.forEach((op, i) => {
              const ns = Number((t[2 * i + 1] as bigint) - (t[2 * i] as bigint));
              const e = this.times.get(op) ?? { op, count: 0, ms: 0 };
              e.count++;
              e.ms += Math.max(ns, 0) / 1e6;
              this.times.set(op, e);
            });
            readable.unmap();
            for (const r of [readable, resolved]) r.destroy();
            querySet.destroy();
          }),
        );
      },
    };
  }

  /** Every op's time so far, most expensive first (after the profiled batches are done). */
  async results(): Promise<KernelTime[]> {
    await Promise.all(this.pending);
    return [...this.times.values()].sort((a, b) => b.ms - a.ms);
  }
}
