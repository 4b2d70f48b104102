/**
 * Planning a matmul: its geometry (sizes, strides, batch axes folded where they can be), and the
 * choice of kernel family and tile shape for it (see matmul.ts for the two families).
 */
import type { View } from '../../backend.js';
import type { Engine } from '../engine.js';
import { wgslType } from './common.js';
import type { KernelTuner } from './tuner.js';

/** What recording a matmul needs from the WebGPU backend. */
export interface MatmulTarget {
  readonly device: GPUDevice;
  readonly engine: Engine;
  /** The compiled pipeline for `code`, cached under `key`. */
  pipeline(key: string, code: string, op: string): GPUComputePipeline;
  /** The GPU buffer behind a view. */
  buffer(view: View): GPUBuffer;
  /**
   * What a view's values are, for the packed-operand cache: its storage (an object that no other
   * allocation ever shares) and the count of writes recorded into it so far.
   */
  contents(view: View): { storage: object; version: number };
  /** Compatibility-level adapters (Dawn on OpenGL ES) get the buffer kernels only. */
  readonly featureLevel?: 'core' | 'compatibility';
  /**
   * A software adapter (llvmpipe, SwiftShader): loads are so dear that the largest tiles pay even
   * where their accumulators spill to the stack. A hardware GPU keeps its tiles at 8 x 8 outputs
   * per invocation (64 accumulators, within a GPU thread's registers).
   */
  readonly software?: boolean;
  /** Picks a tuned plan per shape class (tuner.ts); without one, the heuristic's plan. */
  readonly tuner?: KernelTuner;
  /**
   * Compiles `code` off the calling thread where the implementation does (createComputePipelineAsync)
   * and caches it under `key`, so that a later `pipeline(key, ...)` finds it ready.
   */
  pipelineAsync?(key: string, code: string): Promise<void>;
}

/** Where a matmul runs, as far as the kernel choice is concerned. */
export interface MatmulDevice {
  limits: GPUSupportedLimits;
  featureLevel?: 'core' | 'compatibility';
  software?: boolean;
}

export type MatmulPath = 'auto' | 'texture' | 'buffer' | 'generic';

/**
 * Tuning knobs (module state, for tests and benchmarks). `path` forces a family: 'texture' (where
 * it fits), 'buffer' (vec4 loads where the layout allows), 'generic' (scalar strided loads only).
 */
export const matmulTuning: {
  path: MatmulPath;
  textureMinWork: number;
  textureMinWorkPacked: number;
  textureMinRows: number;
  /** Called with the plan of every matmul recorded (tests and benchmarks look at the choice). */
  onPlan: ((plan: MatmulPlan) => void) | null;
  /** Forces candidate i of matmulCandidates (modulo their count) for every matmul (tests). */
  candidate: number | null;
} = {
  path: 'auto',
  /**
   * batch * M * N * K below which the buffer path runs: packing costs two more dispatches, which
   * pay off only on large products. 2^24 also keeps a GRU's per-step products (h @ U and its
   * gradients, batch <= 64, hidden <= 256) at one dispatch each.
   */
  textureMinWork: 1 << 24,
  /**
   * The same with B already packed: h @ U of a GRU step, [64, 256] @ [256, 768] (2^23.6), is
   * 3.9 ms on the buffer path and 1.6 ms on the texture path once U is packed (llvmpipe).
   */
  textureMinWorkPacked: 1 << 20,
  /** Fewer rows than this (per matrix) go to the buffer path: a texture tile would be mostly idle. */
  textureMinRows: 16,
  onPlan: null,
  candidate: null,
};

/** One operand's strides in elements: s0/s1 for its two matrix axes, then its batch axes. */
export interface Operand {
  off: number;
  s0: number;
  s1: number;
  batch: number[];
}

/** A matmul's sizes and layouts, with size-1 batch axes dropped and size-1 axes' strides zeroed. */
export interface Geometry {
  M: number;
  N: number;
  K: number;
  T: 'f32' | 'i32';
  batchShape: number[];
  batch: number;
  a: Operand;
  b: Operand;
  o: Operand;
  /** The bias epilogue's vector [N]: offset and stride, or null (see recordMatmul in matmul.ts). */
  bias: { off: number; s: number } | null;
}

/** How the buffer kernel loads A: vec4 along k (row-major), vec4 along m (A^T), or scalars. */
type AMode = 'k4' | 'm4' | 's';
/** How the buffer kernel loads B: vec4 along n (row-major), vec4 along k (B^T), or scalars. */
type BMode = 'n4' | 'k4' | 's';

export interface BufferPlan {
  path: 'buffer';
  /** Rows per invocation, and groups of 4 columns per invocation. */
  TM: number;
  TN: number;
  WX: number;
  WY: number;
  aMode: AMode;
  bMode: BMode;
  /** Output stored as vec4 (contiguous rows, N a multiple of 4). */
  oVec: boolean;
}

export interface TexturePlan {
  path: 'texture';
  TM: number;
  TN: number;
  WX: number;
  WY: number;
  oVec: boolean;
  /** Pack A / B with vec4 loads (inner axis contiguous and aligned). */
  aVec: boolean;
  bVec: boolean;
  /**
   * Read A from its buffer (vec4 along k) instead of packing it: for a B kept packed, where a
   * pack of A would be a second dispatch per product (a recurrence's h_t @ U).
   */
  aBuffer: boolean;
}

export type MatmulPlan = BufferPlan | TexturePlan;

export function geometry(a: View, b: View, out: View): Geometry {
  const ra = a.shape.length;
  const ro = out.shape.length;
  const M = a.shape[ra - 2];
  const K = a.shape[ra - 1];
  const N = out.shape[ro - 1];
  const full = out.shape.slice(0, -2);
  // Size-1 batch axes do nothing: dropping them means fewer kernel variants.
  const keep = full.map((d) => d !== 1);
  const pick = (v: View): number[] => v.strides.slice(0, -2).filter((_, i) => keep[i]);
  const operand = (v: View, d0: number, d1: number): Operand => {
    const r = v.shape.length;
    return {
      off: v.offset,
      s0: d0 === 1 ? 0 : v.strides[r - 2],
      s1: d1 === 1 ? 0 : v.strides[r - 1],
      batch: pick(v),
    };
  };
  const batchShape = full.filter((d) => d !== 1);
  return foldBatch({
    M,
    N,
    K,
    T: wgslType(out.dtype),
    batchShape,
    batch: batchShape.reduce((x, y) => x * y, 1),
    a: operand(a, M, K),
    b: operand(b, K, N),
    o: operand(out, M, N),
    bias: null,
  });
}

/**
 * A batch of products with one B ([T, B, I] @ [I, 3H]: a sequence's input projection) is one
 * product with T·B rows, when A's and the output's batch axes continue their rows (stride of
 * the last batch axis = M × row stride, and so on outwards): one large matmul, not T small ones.
 */
function foldBatch(g: Geometry): Geometry {
  if (g.batchShape.length === 0 || g.M === 1 || !g.b.batch.every((s) => s === 0)) return g;
  const continuesRows = (x: Operand): boolean => {
    let expect = x.s0 * g.M;
    for (let d = g.batchShape.length - 1; d >= 0; d--) {
      if (x.batch[d] !== expect) return false;
      expect *= g.batchShape[d];
    }
    return true;
  };
  if (!continuesRows(g.a) || !continuesRows(g.o)) return g;
  const flat = (x: Operand): Operand => ({ ...x, batch: [] });
  return { ...g, M: g.M * g.batch, batchShape: [], batch: 1, a: flat(g.a), b: flat(g.b), o: flat(g.o) };
}

const div4 = (x: number): boolean => x % 4 === 0;
/** Offset and batch strides all multiples of 4 (so vec4 indices are exact). */
const aligned = (x: Operand): boolean => div4(x.off) && x.batch.every(div4);

export function aModeOf(g: Geometry, TM: number): AMode {
  const a = g.a;
  if (div4(g.K) && a.s1 === 1 && div4(a.s0) && aligned(a)) return 'k4';
  if (div4(TM) && div4(g.M) && a.s0 === 1 && div4(a.s1) && aligned(a)) return 'm4';
  return 's';
}

function bModeOf(g: Geometry): BMode {
  const b = g.b;
  if (div4(g.N) && b.s1 === 1 && div4(b.s0) && aligned(b)) return 'n4';
  if (div4(g.K) && b.s0 === 1 && div4(b.s1) && aligned(b)) return 'k4';
  return 's';
}

const outVec = (g: Geometry): boolean => div4(g.N) && g.o.s1 === 1 && div4(g.o.s0) && aligned(g.o);

/** Distinct matrices of an operand: its batch axes with a nonzero stride (broadcast ones repeat). */
export function slabs(g: Geometry, x: Operand): number {
  return g.batchShape.reduce((n, d, i) => (x.batch[i] === 0 ? n : n * d), 1);
}

function textureFits(g: Geometry, limits: GPUSupportedLimits): boolean {
  const dim = limits.maxTextureDimension2D;
  const K4 = Math.ceil(g.K / 4);
  const N4 = Math.ceil(g.N / 4);
  return (
    g.T === 'f32' &&
    g.K > 0 &&
    K4 <= dim &&
    g.M <= dim &&
    N4 <= dim &&
    K4 * 4 <= dim &&
    slabs(g, g.a) <= limits.maxTextureArrayLayers &&
    slabs(g, g.b) <= limits.maxTextureArrayLayers
  );
}

/** Read-only storage textures need a WGSL language feature (every Dawn build in Node has it). */
export function storageTextureRead(): boolean {
  const gpu = (globalThis as { navigator?: { gpu?: { wgslLanguageFeatures?: ReadonlySet<string> } } }).navigator?.gpu;
  const features = gpu?.wgslLanguageFeatures;
  return features === undefined || features.has('readonly_and_readwrite_storage_textures');
}

/**
 * Chooses the kernel family and its tile shape for out = a @ b. `bPacked`: B's packed texture is
 * (or will be) kept for later products with the same B, as with h_t @ U at every step of a
 * recurrence; then at most A is packed per product (for few rows it is read in place), and the
 * texture path pays from far smaller products (textureMinWorkPacked).
 */
export function choose(g: Geometry, device: MatmulDevice, bPacked: boolean, mode = matmulTuning.path): MatmulPlan {
  const texturesOk = device.featureLevel !== 'compatibility' && textureFits(g, device.limits) && storageTextureRead();
  const work = g.batch * g.M * g.N * g.K;
  const minWork = bPacked ? matmulTuning.textureMinWorkPacked : matmulTuning.textureMinWork;
  const wantTexture =
    mode === 'texture' || (mode === 'auto' && g.M >= matmulTuning.textureMinRows && g.N >= 16 && work >= minWork);
  if (texturesOk && wantTexture) {
    // 16 x 16 outputs per invocation (8 x 8 invocations: 128 x 128 per workgroup) once the
    // matrices are big enough to fill such tiles; 8 x 8 per invocation below that.
    const big = (device.software ?? true) && g.M >= 128 && g.N >= 128;
    const aVec = g.a.s1 === 1 && div4(g.K) && div4(g.a.s0) && aligned(g.a);
    // A read in place where B is kept packed (one dispatch per product). Its loads are the dear
    // ones there, so the tile is wider: 8 x 16 (h @ U, [64, 256] @ [256, 768]: 1.6 ms vs 2.0 ms
    // with 8 x 8 tiles, and 3.8 ms on the buffer path; llvmpipe).
    // Only for few rows: for many, packing A pays for itself (x @ W over a whole sequence,
    // [4096, 128] @ [128, 768]: 66 ms reading A in place, 33 ms packed).
    const aBuffer = bPacked && aVec && g.batchShape.length === 0 && g.M <= 256;
    const TM = big ? 16 : 8;
    const TN = big || aBuffer ? 4 : 2;
    return {
      path: 'texture',
      TM,
      TN,
      ...workgroupFor(g, TM, TN),
      oVec: outVec(g),
      aVec,
      bVec: g.b.s1 === 1 && div4(g.N) && div4(g.b.s0) && aligned(g.b),
      aBuffer,
    };
  }
  // Buffer path. Skinny M: as many rows per invocation as there are, and workgroups of 16 along
  // N, so that even a [1, K] @ [K, N] product makes several workgroups for the cores to share.
  const TM = g.M <= 1 ? 1 : g.M <= 2 ? 2 : g.M <= 4 ? 4 : 8;
  const generic = mode === 'generic';
  return {
    path: 'buffer',
    TM,
    TN: 1,
    ...(TM < 8 ? { WX: 16, WY: 1 } : workgroupFor(g, TM, 1)),
    aMode: generic ? 's' : aModeOf(g, TM),
    bMode: generic ? 's' : bModeOf(g),
    oVec: !generic && outVec(g),
  };
}

const pow2ceil = (x: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/**
 * A workgroup of 64 invocations shaped to the output: 8 x 8, made flatter or narrower where the
 * matrix has fewer tile rows or columns than that (those past the edge would only recompute
 * clamped copies of the last one). Always 64 invocations, so that few pipelines are compiled.
 */
export function workgroupFor(g: Geometry, TM: number, TN: number): { WX: number; WY: number } {
  const wantY = pow2ceil(Math.ceil(g.M / TM));
  const wantX = pow2ceil(Math.ceil(g.N / (4 * TN)));
  let WY = Math.min(8, wantY);
  let WX = 64 / WY;
  if (WX > wantX) {
    WX = wantX;
    WY = 64 / WX;
  }
  return { WX, WY };
}

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** "[M, K] @ [K, N]" (with the batch shape), for error messages and the profiler. */
export const dims = (g: Geometry): string =>
  `${g.batchShape.length ? `[${g.batchShape.join(', ')}] x ` : ''}[${g.M}, ${g.K}] @ [${g.K}, ${g.N}]`;
