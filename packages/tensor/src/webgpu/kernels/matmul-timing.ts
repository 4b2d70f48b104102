/**
 * Timing matmul candidates for the autotuner (matmul-tuner.ts) on a device of their own: a second
 * GPUDevice on the same adapter, with its own queue. Compiling a candidate (createComputePipelineAsync,
 * which Dawn runs off the calling thread) and its first dispatch (where a software driver such as
 * lavapipe JIT-compiles the shader, up to seconds the first time) then never wait in the queue of
 * the device that trains: a training step is not held up behind tuning work.
 *
 * Each candidate runs on scratch buffers laid out like the real product's operands (same offsets
 * and strides), so the kernel timed is the very kernel the product will use: one warm-up dispatch
 * of a single workgroup (it pays the JIT), then runs of several products per submit, wall time
 * from submit to `onSubmittedWorkDone`, the best of three rounds.
 */
import type { Storage, View } from '../../backend.js';
import { type AcquiredDevice, acquireDevice } from '../device.js';
import { Engine } from '../engine.js';
import { bufferKernel, recordBuffer } from './matmul-buffer.js';
import type { Geometry, MatmulPlan, MatmulTarget, Operand } from './matmul-plan.js';
import { recordTexture, textureKernel } from './matmul-texture.js';
import { forgetPacked } from './packed-operands.js';

/** The tuner's allowance: how much is left; each step's wall time, and the part of it on this thread. */
export interface Budget {
  left(): number;
  charge(ms: number, threadMs: number): void;
}

/** What timing one class measured: per candidate, ms per product (Infinity: not timed), and costs. */
export interface Timings {
  ms: number[];
  /** Wall time from createComputePipelineAsync to its resolution, per candidate (off the thread). */
  compileMs: number[];
  /** The single-workgroup warm-up dispatch, per candidate (a software driver's JIT). */
  warmupMs: number[];
  /** Every candidate ran to the end within the budget. */
  complete: boolean;
}

/** A timed run aims at about this many milliseconds of work per submit. */
const SUBMIT_MS = 4;
const MAX_REPS = 16;
/** Rounds over the candidates (each candidate's best counts: a shared machine's load comes and goes). */
const ROUNDS = 3;

/** The WGSL kernel (key and code) a plan records for geometry g. */
export function kernelOf(g: Geometry, plan: MatmulPlan): { key: string; code: string } {
  return plan.path === 'texture' ? textureKernel(g, plan) : bufferKernel(g, plan);
}

/** Elements an operand's buffer must hold: its offset plus its furthest element, plus one. */
function extent(x: Operand, rows: number, cols: number): number {
  return x.off + Math.max(0, rows - 1) * x.s0 + Math.max(0, cols - 1) * x.s1 + 1;
}

/** A second device on the adapter, with a MatmulTarget over it whose pipelines compile asynchronously. */
export class TimingRig {
  readonly target: MatmulTarget;
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  private constructor(
    readonly acquired: AcquiredDevice,
    like: Pick<MatmulTarget, 'featureLevel' | 'software'>,
  ) {
    const device = acquired.device;
    const engine = new Engine(device, { dispatches: 0, submits: 0, uploads: 0, reads: 0 });
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

  /** A rig on the default adapter, or null where none can be had. */
  static async open(like: Pick<MatmulTarget, 'featureLevel' | 'software'>): Promise<TimingRig | null> {
    const acquired = await acquireDevice({ optionalFeatures: [] });
    return acquired ? new TimingRig(acquired, like) : null;
  }

  destroy(): void {
    this.acquired.device.destroy();
  }

  /** Compiles a kernel off the calling thread; resolves to the wall time it took (Infinity: it failed). */
  private async compile(key: string, code: string): Promise<number> {
    if (this.pipelines.has(key)) return 0;
    const device = this.acquired.device;
    const t0 = performance.now();
    try {
      const module = device.createShaderModule({ code, label: key });
      const p = await device.createComputePipelineAsync({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
        label: key,
      });
      this.pipelines.set(key, p);
      return performance.now() - t0;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /**
   * Times each plan on a product of geometry g (batch 1), charging every step's wall time to the
   * budget and stopping when it is spent (the remaining candidates stay at Infinity).
   */
  async time(g: Geometry, plans: MatmulPlan[], bPacked: boolean, budget: Budget): Promise<Timings> {
    const device = this.acquired.device;
    const n = plans.length;
    const out: Timings = {
      ms: plans.map(() => Number.POSITIVE_INFINITY),
      compileMs: [],
      warmupMs: [],
      complete: false,
    };
    const bytes = (elements: number) => Math.ceil((elements * 4) / 16) * 16;
    const scratch = (elements: number): View => {
      const buffer = device.createBuffer({ size: bytes(elements), usage: GPUBufferUsage.STORAGE });
      return { storage: { buffer } as unknown as Storage, dtype: 'float32', shape: [], strides: [], offset: 0 };
    };
    const a = scratch(extent(g.a, g.M, g.K));
    const b = scratch(extent(g.b, g.K, g.N));
    const o = scratch(extent(g.o, g.M, g.N));
    const bias = g.bias ? scratch(g.bias.off + (g.N - 1) * g.bias.s + 1) : null;
    const keepB = bPacked ? { contents: { storage: b.storage, version: 0 }, key: 'tuning' } : null;
    const target = this.target;
    // A warm-up (geo !== g) packs its own B: the kept one must be packed at the full size.
    const record = (geo: Geometry, p: MatmulPlan) => {
      if (p.path === 'texture') recordTexture(target, geo, p, a, b, o, geo === g ? keepB : null, bias);
      else recordBuffer(target, geo, p, a, b, o, bias);
    };
    /** One submit of `reps` products; its wall time, charged. */
    const run = async (geo: Geometry, p: MatmulPlan, reps: number): Promise<number> => {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) record(geo, p);
      target.engine.flush();
      const t1 = performance.now();
      await device.queue.onSubmittedWorkDone();
      const ms = performance.now() - t0;
      budget.charge(ms, t1 - t0);
      return ms;
    };
    try {
      // Compile all candidates at once: Dawn compiles them on its worker threads. The wall time
      // is charged too (on a software adapter those threads share the CPU with training).
      const t0 = performance.now();
      const kernels = plans.map((p) => kernelOf(g, p));
      const compiling = Promise.all(kernels.map((k) => this.compile(k.key, k.code)));
      const t1 = performance.now();
      const compileMs = await compiling;
      budget.charge(performance.now() - t0, t1 - t0);
      out.compileMs = compileMs;
      const first: number[] = plans.map(() => Number.POSITIVE_INFINITY);
      // A step starts only where the budget left covers it: its expected length once one full
      // product has been timed (the heuristic's), else only that it is not spent.
      const fits = (ms: number) => budget.left() > 0 && budget.left() >= ms;
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(compileMs[i])) continue;
        const expected = Number.isFinite(first[0]) ? first[0] : 0;
        if (!fits(expected)) return out;
        // Warm-up: a single workgroup's corner of the product, the same kernel (same key).
        const p = plans[i];
        const rows = p.TM * p.WY;
        const cols = 4 * p.TN * p.WX;
        out.warmupMs[i] = await run({ ...g, M: Math.min(g.M, rows), N: Math.min(g.N, cols) }, p, 1);
        if (!fits(expected)) return out;
        first[i] = await run(g, p, 1);
      }
      const best = Math.min(...first);
      let cut = false;
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < n; i++) {
          // Candidates 4x slower than the best in a single run are not worth more of the budget
          // (the heuristic's plan, the reference, always is).
          if (!Number.isFinite(first[i]) || (i > 0 && first[i] > 4 * best)) continue;
          const reps = Math.min(MAX_REPS, Math.max(1, Math.round(SUBMIT_MS / Math.max(first[i], 1e-3))));
          if (!fits(reps * first[i])) {
            cut = true;
            continue;
          }
          out.ms[i] = Math.min(out.ms[i], (await run(g, plans[i], reps)) / reps);
        }
      }
      out.complete = !cut;
      return out;
    } finally {
      await device.queue.onSubmittedWorkDone();
      if (keepB) forgetPacked(target, b.storage);
      for (const v of [a, b, o, bias]) if (v) target.buffer(v).destroy();
    }
  }
}
