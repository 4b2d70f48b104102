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
import { allocHost, bytesPerElement, type DType, type TypedArray } from '../dtype.js';
import type { Expr } from '../expr.js';
import { seedKey } from '../random/philox.js';
import { contiguousStrides } from '../shape.js';
import type { AcquiredDevice, OptionalFeature } from './device.js';
import { Engine } from './engine.js';
import { grid1d } from './kernels/common.js';
import { gruCellKernel } from './kernels/gru.js';
import { gatherKernel, scatterAddByRows, scatterAddKernel, scatterAddRowsKernel } from './kernels/indexing.js';
import { recordMatmul } from './kernels/matmul.js';
import type { MatmulTarget } from './kernels/matmul-plan.js';
import { reduceWithStrategy, tunedFusedKernel } from './kernels/tuned-choices.js';
import { KernelTuner } from './kernels/tuner.js';
import { forgetPacked, packedWeights } from './kernels/packed-operands.js';
import { randomKernel } from './kernels/random.js';
import { BufferPool } from './pool.js';
import { groupRun, fusedKernel, type MapCommand } from './fusion.js';

/** Close a run of elementwise ops on its own past this many (bounds kernel size and latency). */
const MAX_RUN = 256;

/** WebGPU storage: a pooled GPU buffer (possibly larger than the tensor: size classes). */
export class GpuStorage implements Storage {
  refs = 0;
  /** Set when its last tensor is disposed (the fuser then need not store into it). */
  freed = false;
  /** Writes recorded into it so far (a packed copy of it is valid while this is unchanged). */
  version = 0;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
    readonly dtype: DType,
  ) {}
}

const IDENTITY = (dtype: DType): Expr => ({ kind: 'input', index: 0, dtype });

/**
 * The WebGPU backend: every op is a WGSL compute kernel, recorded into the engine's pending batch
 * and submitted only when the host needs data. Kernels are generated per structure and compiled
 * once (cached by their source's key).
 */
export class WebGpuBackend implements Backend {
  readonly info: BackendInfo;
  readonly stats: EngineStats = { dispatches: 0, submits: 0, uploads: 0, reads: 0, bindGroups: 0 };
  readonly device: GPUDevice;
  readonly engine: Engine;
  /** A kernel binds a tensor's whole buffer, so no tensor may exceed the binding size limit. */
  readonly maxBufferBytes: number;
  /** Kernels may use subgroup operations (the adapter has them and they were not turned off). */
  readonly subgroups: boolean;
  /** The optional features asked for when the device was made (setBackend compares them). */
  readonly requestedFeatures: readonly OptionalFeature[];
  private readonly pool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Kernel choices per shape class (kernels/tuner.ts; off unless setBackend or WGRU_TUNING asks). */
  readonly tuner: KernelTuner;
  /** What the matmul kernels (kernels/matmul.ts) record through. */
  private readonly matmulTarget: MatmulTarget;
  /** Host-mappable buffers for reads, reused (a token-by-token generation loop reads every step). */
  private readonly readbacks: BufferPool;
  /** Elementwise ops waiting to be fused (see fusion.ts), in recording order. */
  private run: MapCommand[] = [];
  /** Storage freed while a run is open: pooled only once the run is encoded. */
  private deferred: GpuStorage[] = [];

  constructor(acquired: AcquiredDevice) {
    this.device = acquired.device;
    this.info = {
      name: 'webgpu',
      adapter: acquired.adapterInfo,
      featureLevel: acquired.featureLevel,
      features: [...acquired.features],
    };
    this.subgroups = acquired.features.includes('subgroups');
    this.requestedFeatures = acquired.requested;
    this.engine = new Engine(this.device, this.stats);
    const software = /llvmpipe|lavapipe|swiftshader|software/i.test(Object.values(acquired.adapterInfo).join(' '));
    const like = { featureLevel: acquired.featureLevel, software, features: acquired.features };
    this.tuner = new KernelTuner(like, this.device, () => this.flush(), acquired.adapterInfo.description);
    this.matmulTarget = {
      device: this.device,
      engine: this.engine,
      pipeline: (key, code, op) => this.pipeline(key, code, op),
      pipelineAsync: (key, code) => this.pipelineAsync(key, code),
      buffer: (v) => this.buf(v),
      contents: (v) => ({ storage: v.storage, version: (v.storage as GpuStorage).version }),
      featureLevel: acquired.featureLevel,
      software,
      tuner: this.tuner,
    };
    this.maxBufferBytes = this.device.limits.maxStorageBufferBindingSize;
    this.pool = new BufferPool(this.device, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.readbacks = new BufferPool(this.device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  }

  supports(dtype: DType): boolean {
    return dtype !== 'float64';
  }

  private pipeline(key: string, code: string, op: string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.device.popErrorScope().then((err) => {
        if (!err) return;
        this.pipelines.delete(key);
        // The batch that uses it fails too; this, its cause, is what the next call throws.
        this.engine.fail(new Error(`wgru: the WGSL kernel for ${op} failed to compile (${key}): ${err.message}`));
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Compiles a kernel off the calling thread (the autotuner's chosen plans), to be found by `pipeline`. */
  private async pipelineAsync(key: string, code: string): Promise<void> {
    if (this.pipelines.has(key)) return;
    const module = this.device.createShaderModule({ code, label: key });
    const p = await this.device.createComputePipelineAsync({
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
      label: key,
    });
    if (!this.pipelines.has(key)) this.pipelines.set(key, p);
  }

  /** Records one dispatch of generated kernel `k` (compiled once per key; `family` names it in errors). */
  private dispatch(
    op: string,
    k: { key: string; code: string; params: Int32Array },
    buffers: (GPUBuffer | GPUTextureView)[],
    workgroups: [number, number, number],
    family = op,
  ): void {
    this.engine.record({
      kind: 'dispatch',
      op,
      pipeline: this.pipeline(k.key, k.code, family),
      buffers,
      params: k.params,
      workgroups,
    });
  }

  private buf(v: View): GPUBuffer {
    return (v.storage as GpuStorage).buffer;
  }

  alloc(dtype: DType, size: number): Storage {
    this.engine.check();
    this.engine.bound.atAllocation();
    const bytes = Math.max(size, 1) * bytesPerElement(dtype);
    return new GpuStorage(this.pool.acquire(bytes), size * bytesPerElement(dtype), dtype);
  }

  upload(data: TypedArray): Storage {
    this.engine.check();
    const dtype: DType = data instanceof Int32Array ? 'int32' : 'float32';
    if (data instanceof Float64Array) throw new Error('WebGPU backend: float64 is supported on the CPU backend only');
    const s = this.alloc(dtype, data.length) as GpuStorage;
    this.stats.uploads++;
    if (data.byteLength === 0) return s;
    // Through a staging buffer copied in the pending stream, so that the upload lands in order
    // with the ops already recorded (a queue.writeBuffer would overtake them).
    const size = Math.ceil(data.byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.engine.record({ kind: 'copy', op: 'upload', src: staging, srcOffset: 0, dst: s.buffer, dstOffset: 0, size });
    this.engine.destroyAfterSubmit(staging);
    return s;
  }

  /** Notes a write into `out`'s storage, recorded now: packed copies of it are stale from here. */
  private wrote(out: View): void {
    (out.storage as GpuStorage).version++;
    forgetPacked(this.matmulTarget, out.storage);
  }

  free(storage: Storage): void {
    const s = storage as GpuStorage;
    s.freed = true;
    forgetPacked(this.matmulTarget, s);
    // While elementwise ops wait to be fused, a freed buffer may still be read by them: it
    // must not be handed to a new tensor until they are encoded.
    if (this.run.length > 0) this.deferred.push(s);
    else this.pool.release(s.buffer);
  }

  /**
   * Encodes the open run of elementwise ops: one generated kernel per group, storing only the
   * results still needed (a live tensor, or a reader in a later group). Called before anything
   * else is recorded and at every sync point.
   */
  private closeRun(): void {
    const run = this.run;
    if (run.length === 0) return;
    this.run = [];
    const maxBuffers = this.device.limits.maxStorageBuffersPerShaderStage;
    const stored = (cmd: MapCommand) => !(cmd.out.storage as GpuStorage).freed;
    const pending = groupRun(run, maxBuffers, stored);
    let start = 0;
    while (pending.length > 0) {
      const group = pending.shift() as MapCommand[];
      const later = run.slice(start + group.length);
      const needed = group.map(
        (cmd) => stored(cmd) || later.some((c) => c.inputs.some((x) => x.storage === cmd.out.storage)),
      );
      const k = needed.some(Boolean) ? fusedKernel(group, needed) : null; // none needed: dead code
      if (k && k.buffers.length > maxBuffers && group.length > 1) {
        // Too many results must be stored for one kernel's bindings: split and try again.
        const half = Math.ceil(group.length / 2);
        pending.unshift(group.slice(0, half), group.slice(half));
        continue;
      }
      start += group.length;
      if (!k) continue;
      const t = tunedFusedKernel(this.tuner, group, needed, k, this.device.limits.maxComputeInvocationsPerWorkgroup);
      this.dispatch(k.ops, t.kernel, k.buffers, t.workgroups, 'elementwise');
    }
    for (const s of this.deferred) this.pool.release(s.buffer);
    this.deferred = [];
  }

  async read(view: View): Promise<TypedArray> {
    this.engine.check();
    this.stats.reads++;
    const n = view.shape.reduce((a, b) => a * b, 1);
    const out = allocHost(view.dtype, n);
    if (n === 0) return out;
    let src = view;
    let temp: GpuStorage | null = null;
    if (!viewIsContiguous(view)) {
      temp = this.alloc(view.dtype, n) as GpuStorage;
      src = { storage: temp, dtype: view.dtype, shape: view.shape, strides: contiguousStrides(view.shape), offset: 0 };
      this.map(IDENTITY(view.dtype), [view], src);
    }
    this.closeRun();
    const bytes = n * 4;
    const staging = this.readbacks.acquire(bytes);
    this.engine.record({
      kind: 'copy',
      op: 'read',
      src: this.buf(src),
      srcOffset: src.offset * 4,
      dst: staging,
      dstOffset: 0,
      size: bytes,
    });
    if (temp) this.free(temp);
    this.engine.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.engine.check();
      throw e;
    }
    const mapped = staging.getMappedRange(0, bytes);
    out.set(view.dtype === 'int32' ? new Int32Array(mapped) : new Float32Array(mapped));
    staging.unmap();
    this.readbacks.release(staging);
    this.engine.check();
    return out;
  }

  map(expr: Expr, inputs: readonly View[], out: View): void {
    const n = out.shape.reduce((a, b) => a * b, 1);
    if (n === 0) return;
    // An input that is exactly the output's view is read through the output's binding (each
    // invocation reads its element before writing it: in-place is safe). Any other overlap is
    // computed into a temporary and copied back (WebGPU forbids binding one buffer as both read
    // and read-write in a dispatch).
    const sameView = (v: View) =>
      v.offset === out.offset &&
      v.shape.length === out.shape.length &&
      v.strides.every((s, i) => s === out.strides[i] || out.shape[i] === 1);
    if (inputs.some((v) => v.storage === out.storage && !sameView(v))) {
      const tmp = this.alloc(out.dtype, n);
      const tv: View = {
        storage: tmp,
        dtype: out.dtype,
        shape: out.shape,
        strides: contiguousStrides(out.shape),
        offset: 0,
      };
      this.map(expr, inputs, tv);
      this.map(IDENTITY(out.dtype), [tv], out);
      this.free(tmp);
      return;
    }
    this.wrote(out);
    this.run.push({ expr, inputs, out });
    if (this.run.length >= MAX_RUN) this.closeRun();
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
    const n = out.shape.reduce((a, b) => a * b, 1);
    if (n === 0) return;
    this.closeRun();
    this.wrote(out);
    const buffers = [this.buf(out), this.buf(x)];
    const bytes: [number, number] = [buffers[0].size, buffers[1].size];
    const d = reduceWithStrategy(this.tuner, op, x, axes, out, this.subgroups, bytes);
    this.dispatch(op, d.k, buffers, d.workgroups);
  }

  matmul(a: View, b: View, out: View, bias: View | null = null): void {
    if (out.shape.reduce((x, y) => x * y, 1) === 0) return;
    this.closeRun();
    this.wrote(out);
    recordMatmul(this.matmulTarget, a, b, out, bias);
  }

  gather(x: View, indices: View, axis: number, out: View): void {
    this.closeRun();
    this.wrote(out);
    const k = gatherKernel(x, indices, axis, out);
    if (k.n === 0) return;
    this.dispatch('gather', k, [this.buf(out), this.buf(x), this.buf(indices)], grid1d(k.n));
  }

  scatterAdd(src: View, indices: View, axis: number, out: View): void {
    this.closeRun();
    this.wrote(out);
    if (scatterAddByRows(src, indices, axis, out)) {
      const k = scatterAddRowsKernel(src, indices, out);
      if (k.n === 0) return;
      this.dispatch('scatterAdd', k, [this.buf(out), this.buf(src), this.buf(indices)], k.workgroups);
      return;
    }
    const k = scatterAddKernel(src, indices, axis, out);
    if (k.n === 0) return;
    this.dispatch('scatterAdd', k, [this.buf(out), this.buf(src), this.buf(indices)], grid1d(k.n));
  }

  gruCell(args: GruCellArgs): void {
    this.closeRun();
    this.wrote(args.out);
    // U and W as packed textures from their second use on (a generation loop reads them every token).
    const U = packedWeights(this.matmulTarget, args.U);
    const packed = U ? { U, W: args.W ? packedWeights(this.matmulTarget, args.W) : null } : null;
    const k = gruCellKernel(args, packed);
    const bindings = k.views.map((v) =>
      packed && v === args.U ? packed.U : packed?.W && v === args.W ? packed.W : this.buf(v),
    );
    this.dispatch('gruCell', k, bindings, k.workgroups);
  }

  random(kind: 'uniform' | 'normal', seed: number, out: View): void {
    this.closeRun();
    this.wrote(out);
    const k = randomKernel(kind, seedKey(seed), out);
    if (k.n === 0) return;
    this.dispatch(kind === 'uniform' ? 'uniform' : 'randn', k, [this.buf(out)], grid1d(k.n), 'random');
  }

  /** A safe point (the start of `backward()`): throws if too much was queued without a yield. */
  checkQueue(): void {
    this.engine.bound.atSafePoint();
  }

  flush(): void {
    this.closeRun();
    this.engine.flush();
  }

  memory(): { bytesInUse: number; bytesPooled: number } {
    return { bytesInUse: this.pool.bytesInUse, bytesPooled: this.pool.bytesPooled };
  }

  destroy(): void {
    try {
      this.flush();
    } catch {
      // a lost device has nothing left to flush
    }
    this.pool.trim();
    this.readbacks.trim();
    this.tuner.close();
    this.device.destroy();
  }
}
