/**
 * Timing kernel candidates for the autotuner (tuner.ts) on a device of their own: a second
 * GPUDevice on the same adapter, with its own queue. Compiling a candidate (createComputePipelineAsync,
 * which Dawn runs off the calling thread) and its first dispatch (where a software driver such as
 * lavapipe JIT-compiles the shader, up to seconds the first time) then never wait in the queue of
 * the device that trains: a training step is not held up behind tuning work.
 *
 * Each candidate runs on scratch buffers laid out like the real dispatch's operands (same sizes,
 * offsets and strides), so what is timed is what the real dispatch records: the same kernel, and for
 * a texture matmul the same packs of its operands (B packed once where the class keeps it packed).
 * One warm-up dispatch of a single workgroup (it pays the JIT), then runs of several products per
 * submit, each the time its recording and submit took on the calling thread plus its dispatches'
 * device time from timestamp queries where the device has them (else wall time to
 * `onSubmittedWorkDone`), compared in rounds with the built-in choice (candidate-timing.ts).
 * Every compile, warm-up and submit is a step of the tuning budget (tuning-budget.ts): what is
 * unfinished at the deadline is abandoned, and a candidate is timed only once its compile and
 * warm-up have finished.
 */
import type { Storage, View } from '../../backend.js';
import type { OptionalFeature } from '../device.js';
import { type AcquiredDevice, acquireDevice } from '../device.js';
import { Engine } from '../engine.js';
import { bufferKernel, recordBuffer } from './matmul-buffer.js';
import type { Geometry, MatmulPlan, MatmulTarget, Operand } from './matmul-plan.js';
import { recordTexture, textureKernel } from './matmul-texture.js';
import { forgetPacked } from './packed-operands.js';
import { type DeviceTimer, jitMs, type Timings, timeCandidates } from './candidate-timing.js';
import { KernelProfiler } from '../profiler.js';
import { CUT, type TuningBudget } from './tuning-budget.js';

/** One candidate of a kernel family other than matmul: a kernel and how the real dispatch runs it. */
export interface KernelVariant {
  key: string;
  code: string;
  params: Int32Array;
  workgroups: [number, number, number];
}

/** Scratch buffers hold 0.5 (as f32; as i32 a large positive number): no NaN, no denormal. */
const FILL = 0x3f000000;

/** The WGSL kernel (key and code) a plan records for geometry g. */
export function kernelOf(g: Geometry, plan: MatmulPlan): { key: string; code: string } {
  return plan.path === 'texture' ? textureKernel(g, plan) : bufferKernel(g, plan);
}

/** Elements an operand's buffer must hold: its offset plus its furthest element, plus one. */
function extent(x: Operand, rows: number, cols: number): number {
  return x.off + Math.max(0, rows - 1) * x.s0 + Math.max(0, cols - 1) * x.s1 + 1;
}

type Like = Pick<MatmulTarget, 'featureLevel' | 'software'> & { features: readonly OptionalFeature[] };

/** A second device on the adapter, with a MatmulTarget over it whose pipelines compile asynchronously. */
export class TimingRig {
  readonly target: MatmulTarget;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Whether submits run the GPU work on the calling thread (see SubmitSite), and the longest warm-up there. */
  synchronous: boolean;
  longestJitMs = 0;
  /** Compiles under way (abandoned ones included): the device is destroyed once they end. */
  private readonly compiling = new Set<Promise<number>>();

  private constructor(
    readonly acquired: AcquiredDevice,
    like: Like,
  ) {
    const device = acquired.device;
    this.synchronous = /OpenGL/i.test(acquired.adapterInfo.description);
    const engine = new Engine(device, { dispatches: 0, submits: 0, uploads: 0, reads: 0, bindGroups: 0 });
    this.target = {
      device,
      engine,
      featureLevel: like.featureLevel,
      software: like.software,
      pipeline: (key, code) => {
        let p = this.pipelines.get(key);
        if (!p) {
          const module = device.createShaderModule({ code, label: key });
          p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
          this.pipelines.set(key, p);
        }
        return p;
      },
      buffer: (v) => (v.storage as unknown as { buffer: GPUBuffer }).buffer,
      contents: (v) => ({ storage: v.storage, version: 0 }),
    };
  }

  /** Opens a rig on the default adapter with the main device's features (null where none can be had). */
  static async open(like: Like): Promise<TimingRig | null> {
    const acquired = await acquireDevice({ optionalFeatures: [...like.features] });
    return acquired ? new TimingRig(acquired, like) : null;
  }

  /** Destroys the device once its abandoned work (compiles, submits) has ended: never waits for it here. */
  destroy(): void {
    const device = this.acquired.device;
    void Promise.allSettled([...this.compiling, device.queue.onSubmittedWorkDone()]).then(() => device.destroy());
  }

  /** Compiles a kernel off the calling thread; resolves to the wall time it took (Infinity: it failed). */
  private compile(key: string, code: string): Promise<number> {
    if (this.pipelines.has(key)) return Promise.resolve(0);
    const device = this.acquired.device;
    const t0 = performance.now();
    const module = device.createShaderModule({ code, label: key });
    const p = device
      .createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key })
      .then(
        (pipeline) => {
          this.pipelines.set(key, pipeline);
          return performance.now() - t0;
        },
        () => Number.POSITIVE_INFINITY,
      )
      .finally(() => this.compiling.delete(p));
    this.compiling.add(p);
    return p;
  }

  /**
   * Times candidates 0..n-1 (0 is the built-in choice, the reference): all compiled in one step,
   * then timed by timeCandidates (a warm-up `record(i, true)` dispatches one workgroup).
   */
  private async timeEach(
    kernels: { key: string; code: string }[],
    record: (i: number, warm: boolean) => void,
    budget: TuningBudget,
    challenger: (ms: number[]) => number,
  ): Promise<Timings> {
    const out: Timings = {
      ms: kernels.map(() => Number.POSITIVE_INFINITY),
      compileMs: [],
      warmupMs: [],
      complete: false,
    };
    const device = this.acquired.device;
    // Not even one warm-up would fit: the class is left alone (its compiles would be wasted).
    if (budget.left() < jitMs(this)) return out;
    const compiled = await budget.step(() => Promise.all(kernels.map((k) => this.compile(k.key, k.code))));
    if (compiled === CUT) return out;
    out.compileMs = compiled;
    const submit = () => this.target.engine.flush();
    const done = () => device.queue.onSubmittedWorkDone();
    const timer = this.deviceTimer();
    out.timestamps = timer !== undefined;
    return timeCandidates(
      compiled.map((ms) => Number.isFinite(ms)),
      { record, submit, done, site: this, timer },
      budget,
      challenger,
      out,
    );
  }

  /** Device time per submit from timestamp queries (each dispatch in a pass of its own), where the device has them. */
  private deviceTimer(): DeviceTimer | undefined {
    if (!this.acquired.device.features.has('timestamp-query')) return undefined;
    const engine = this.target.engine;
    let profiler = new KernelProfiler();
    return {
      start: () => {
        profiler = new KernelProfiler();
        engine.profiler = profiler;
      },
      read: async () => {
        engine.profiler = null;
        return (await profiler.results()).reduce((sum, k) => sum + k.ms, 0);
      },
    };
  }

  /** A scratch buffer of `bytes` (rounded up to 16), filled with FILL. */
  private scratchBuffer(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const buffer = this.acquired.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    new Int32Array(buffer.getMappedRange()).fill(FILL);
    buffer.unmap();
    return buffer;
  }

  /** Destroys scratch buffers once the queue has finished with them (at once where nothing was cut). */
  private release(buffers: GPUBuffer[], timings: Timings, before?: () => void): void {
    const free = () => {
      before?.();
      for (const b of buffers) b.destroy();
    };
    if (timings.complete) free();
    else void this.acquired.device.queue.onSubmittedWorkDone().then(free);
  }

  /** Times each plan on a product of geometry g (batch 1); see timeEach. */
  async timeMatmul(
    g: Geometry,
    plans: MatmulPlan[],
    bPacked: boolean,
    budget: TuningBudget,
    challenger: (ms: number[]) => number,
  ): Promise<Timings> {
    const scratch = (elements: number): View => {
      const buffer = this.scratchBuffer(elements * 4);
      return { storage: { buffer } as unknown as Storage, dtype: 'float32', shape: [], strides: [], offset: 0 };
    };
    const a = scratch(extent(g.a, g.M, g.K));
    const b = scratch(extent(g.b, g.K, g.N));
    const o = scratch(extent(g.o, g.M, g.N));
    const bias = g.bias ? scratch(g.bias.off + (g.N - 1) * g.bias.s + 1) : null;
    const keepB = bPacked ? { contents: { storage: b.storage, version: 0 }, key: 'tuning' } : null;
    const target = this.target;
    // A warm-up computes a single workgroup's corner of the product with the same kernel (same
    // key); it packs its own B, since the kept one must be packed at the full size.
    const record = (i: number, warm: boolean) => {
      const p = plans[i];
      const geo = warm ? { ...g, M: Math.min(g.M, p.TM * p.WY), N: Math.min(g.N, 4 * p.TN * p.WX) } : g;
      if (p.path === 'texture') recordTexture(target, geo, p, a, b, o, warm ? null : keepB, bias);
      else recordBuffer(target, geo, p, a, b, o, bias);
    };
    let t: Timings = { ms: [], compileMs: [], warmupMs: [], complete: false };
    try {
      t = await this.timeEach(
        plans.map((p) => kernelOf(g, p)),
        record,
        budget,
        challenger,
      );
      return t;
    } finally {
      const views = [a, b, o, bias].filter((v): v is View => v !== null);
      this.release(
        views.map((v) => target.buffer(v)),
        t,
        keepB ? () => forgetPacked(target, b.storage) : undefined,
      );
    }
  }

  /**
   * Times kernel variants that bind the same buffers (sizes in bytes, binding 1 onwards) and read
   * the same parameters; a warm-up dispatches one workgroup. See timeEach.
   */
  async timeKernels(
    variants: KernelVariant[],
    bufferBytes: number[],
    budget: TuningBudget,
    challenger: (ms: number[]) => number,
  ): Promise<Timings> {
    const buffers = bufferBytes.map((b) => this.scratchBuffer(b));
    const record = (i: number, warm: boolean) => {
      const v = variants[i];
      this.target.engine.record({
        kind: 'dispatch',
        op: 'tuning',
        pipeline: this.target.pipeline(v.key, v.code, 'tuning'),
        buffers,
        params: v.params,
        workgroups: warm ? [1, 1, 1] : v.workgroups,
      });
    };
    let t: Timings = { ms: [], compileMs: [], warmupMs: [], complete: false };
    try {
      t = await this.timeEach(variants, record, budget, challenger);
      return t;
    } finally {
      this.release(buffers, t);
    }
  }
}
