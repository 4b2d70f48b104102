import type { EngineStats } from '../backend.js';
import type { KernelProfiler } from './profiler.js';
import { QueueBound } from './queue-bound.js';

/** One recorded dispatch: which kernel, which buffers, which parameters. */
export interface Dispatch {
  kind: 'dispatch';
  /** The op that asked for it, for error messages. */
  op: string;
  pipeline: GPUComputePipeline;
  /**
   * Storage buffers (or texture views, for kernels that read textures) in binding order, starting
   * at binding 1 (binding 0 is the parameters).
   */
  buffers: (GPUBuffer | GPUTextureView)[];
  /** The kernel's parameters (i32 words; floats as their bits). */
  params: Int32Array;
  workgroups: [number, number, number];
}

interface Copy {
  kind: 'copy';
  op: string;
  src: GPUBuffer;
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  size: number;
}

export type Command = Dispatch | Copy;

const PARAM_ALIGN = 256;
/** Bind groups kept for reuse (see Engine.bindGroupFor). */
const BIND_GROUP_CACHE = 4096;
/** Flush on its own when this many commands are pending, so no batch grows without bound. */
const MAX_PENDING = 1024;

/**
 * Records commands instead of running them, and submits them all at once at a sync point (a
 * read) or when the batch grows large: one command encoder, one compute pass per run of
 * dispatches, one parameter upload and one queue submit per batch. Commands are encoded in the
 * order they were recorded; elementwise ops are fused before they get here (the backend's runs,
 * fusion.ts).
 */
export class Engine {
  private pending: Command[] = [];
  private paramBuffer: GPUBuffer | null = null;
  /** Temporary buffers (and textures) that may be destroyed once the batch using them has been submitted. */
  private afterSubmit: (GPUBuffer | GPUTexture)[] = [];
  /** An asynchronous error (validation, device loss) to throw at the next opportunity. */
  private asyncError: Error | null = null;
  lost = false;
  /**
   * Set when a submitted batch failed validation. Nothing in a failed batch ran (its uploads, its
   * in-place updates), so every value it touched, and everything computed from them later, would
   * be silently wrong: from then on every call throws this error, until `setBackend('webgpu')`
   * replaces the device.
   */
  broken: Error | null = null;
  /** What was made since the event loop last turned, and the bounds on it (see queue-bound.ts). */
  readonly bound = new QueueBound();

  constructor(
    readonly device: GPUDevice,
    readonly stats: EngineStats,
  ) {
    device.lost.then((info) => {
      this.lost = true;
      if (info.reason !== 'destroyed') {
        this.asyncError = new Error(
          `WebGPU device lost (${info.reason}): ${info.message}. Call setBackend('webgpu') again to re-initialise.`,
        );
      }
    });
  }

  /** Throws a pending asynchronous error, if any (called at the start of every public entry). */
  check(): void {
    if (this.lost) {
      throw this.asyncError ?? new Error("WebGPU device was destroyed; call setBackend('webgpu') again.");
    }
    if (this.broken) {
      throw new Error(
        `${this.broken.message}\nThe results of that batch are lost, so this device refuses further work: call ` +
          `setBackend('webgpu') for a fresh one.`,
        { cause: this.broken },
      );
    }
    if (this.asyncError) {
      const e = this.asyncError;
      this.asyncError = null;
      throw e;
    }
  }

  /**
   * Records an error found asynchronously, to be thrown by the next call. The first one is kept:
   * later ones (a batch that used a kernel that failed to compile) are usually its consequences.
   */
  fail(error: Error): void {
    this.asyncError ??= error;
  }

  /** Set while kernels are being profiled (see profiler.ts). */
  profiler: KernelProfiler | null = null;

  /** Each pipeline's bind group layout, asked of it once (the call crosses into the driver). */
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();

  private layoutOf(pipeline: GPUComputePipeline): GPUBindGroupLayout {
    let layout = this.layouts.get(pipeline);
    if (!layout) {
      layout = pipeline.getBindGroupLayout(0);
      this.layouts.set(pipeline, layout);
    }
    return layout;
  }

  /**
   * Bind groups by what they bind (pipeline, parameter range, resources), reused: a loop that
   * records the same ops step after step (a generation loop, a training step) binds the same
   * pooled buffers (pool.ts says how) at the same parameter offsets, and a bind group costs
   * ~20 µs to make (Dawn) and, on lavapipe, a memory mapping until it is garbage collected.
   * Keys are object identities, never reused, so an entry whose buffer was destroyed is never
   * asked for again; the oldest entries go first past BIND_GROUP_CACHE.
   */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(o, id);
    }
    return id;
  }

  private bindGroupFor(c: Dispatch, offset: number): GPUBindGroup {
    const params = this.paramBuffer as GPUBuffer;
    const size = Math.ceil(Math.max(c.params.byteLength, 16) / 16) * 16;
    let key = `${this.idOf(c.pipeline)}:${this.idOf(params)}:${offset}:${size}`;
    for (const b of c.buffers) key += `:${this.idOf(b)}`;
    const cached = this.bindGroups.get(key);
    if (cached) {
      // most recently used last
      this.bindGroups.delete(key);
      this.bindGroups.set(key, cached);
      return cached;
    }
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: params, offset, size } }];
    c.buffers.forEach((b, j) => {
      entries.push({ binding: j + 1, resource: 'mapAsync' in b ? { buffer: b } : b });
    });
    const group = this.device.createBindGroup({ layout: this.layoutOf(c.pipeline), entries });
    this.bound.madeBindGroups();
    this.stats.bindGroups++;
    this.bindGroups.set(key, group);
    if (this.bindGroups.size > BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value as string);
    return group;
  }

  record(cmd: Command): void {
    this.check();
    if (cmd.kind === 'dispatch') this.stats.dispatches++;
    this.pending.push(cmd);
    if (this.pending.length >= MAX_PENDING) this.flush();
  }

  /** Keeps `resource` alive until the current batch has been submitted, then destroys it. */
  destroyAfterSubmit(resource: GPUBuffer | GPUTexture): void {
    this.afterSubmit.push(resource);
  }

  flush(): void {
    this.check();
    const cmds = this.pending;
    if (cmds.length === 0) return;
    this.pending = [];
    const device = this.device;

    // All parameters of the batch in one buffer, one upload.
    let paramBytes = 0;
    const paramOffsets: number[] = [];
    for (const c of cmds) {
      if (c.kind !== 'dispatch') continue;
      paramOffsets.push(paramBytes);
      paramBytes += Math.ceil(Math.max(c.params.byteLength, 16) / PARAM_ALIGN) * PARAM_ALIGN;
    }
    if (paramBytes > 0 && (this.paramBuffer === null || this.paramBuffer.size < paramBytes)) {
      this.paramBuffer?.destroy();
      let size = 4096;
      while (size < paramBytes) size *= 2;
      this.paramBuffer = device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    }
    const params = new Uint8Array(paramBytes);
    {
      let i = 0;
      for (const c of cmds) {
        if (c.kind !== 'dispatch') continue;
        params.set(new Uint8Array(c.params.buffer, c.params.byteOffset, c.params.byteLength), paramOffsets[i++]);
      }
    }
    device.pushErrorScope('validation');
    if (paramBytes > 0 && this.paramBuffer) device.queue.writeBuffer(this.paramBuffer, 0, params);

    const encoder = device.createCommandEncoder();
    // Profiling: each dispatch in a pass of its own, with timestamps at its start and end.
    const profile = this.profiler?.begin(device, cmds) ?? null;
    let pass: GPUComputePassEncoder | null = null;
    let di = 0;
    for (const c of cmds) {
      if (c.kind === 'copy') {
        pass?.end();
        pass = null;
        encoder.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
        continue;
      }
      if (profile) {
        pass?.end();
        pass = encoder.beginComputePass({ timestampWrites: profile.writes(di) });
      }
      pass ??= encoder.beginComputePass();
      const offset = paramOffsets[di++];
      const bindGroup = this.bindGroupFor(c, offset);
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(c.workgroups[0], c.workgroups[1], c.workgroups[2]);
    }
    pass?.end();
    profile?.resolve(encoder);
    device.queue.submit([encoder.finish()]);
    profile?.collect();
    this.stats.submits++;
    this.bound.submitted();
    const ops = [...new Set(cmds.map((c) => c.op))];
    device.popErrorScope().then((err) => {
      if (err) {
        // A kernel that failed to compile (reported through fail()) is the likelier cause.
        this.broken ??=
          this.asyncError ??
          new Error(
            `WebGPU validation error in a batch of ops ` +
              `(${ops.slice(0, 12).join(', ')}${ops.length > 12 ? ', ...' : ''}): ${err.message}`,
          );
        this.fail(
          new Error(
            `WebGPU validation error in a batch of ops ` +
              `(${ops.slice(0, 12).join(', ')}${ops.length > 12 ? ', ...' : ''}): ${err.message}`,
          ),
        );
      }
    });
    for (const b of this.afterSubmit) b.destroy();
    this.afterSubmit = [];
  }
}
