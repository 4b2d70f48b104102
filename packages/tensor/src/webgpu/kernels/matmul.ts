import type { View } from '../../backend.js';
import type { Engine } from '../engine.js';
import { ENTRY_1D, grid1d, linearIndex, P, Params, paramsDecl, wgslType } from './common.js';

/**
 * Batched matmul, out[z] = a[z] @ b[z] over the last two axes, in two families of kernels.
 *
 * Both are register-blocked: each invocation accumulates a TM x (4*TN) block of outputs in
 * registers (TM rows, TN groups of four adjacent columns held as vec4 accumulators), with no
 * workgroup memory and no barriers. On software adapters (Mesa's llvmpipe/lavapipe, which runs one
 * SIMD lane per invocation), what costs is not arithmetic but loads: every storage-buffer load is
 * done lane by lane with a bounds check, so the kernels are shaped to load as few values per
 * multiply-add as the registers allow.
 *
 * - The texture path (float32, large problems): two small "pack" dispatches copy each operand,
 *   through its strides, into an rgba32float storage texture (A as [M rows][K/4 texels], texels
 *   along k; B as [K rows][N/4 texels], texels along n; zero padded to whole texels and to a
 *   multiple of 4 rows of B, one array layer per distinct batch matrix). The matmul kernel then
 *   reads texels, which llvmpipe fetches for all lanes at once, several times cheaper than buffer
 *   loads: per k-step of 4, an invocation reads TM texels of A and 4*TN of B for 16*TM*TN
 *   multiply-adds. Any layout (transposed, sliced, broadcast batch) costs only the pack.
 * - The buffer path (small problems, skinny M such as batch-1 generation, int32, or where textures
 *   do not fit the limits): reads the operands' storage buffers in place. Each operand is bound as
 *   array<vec4> where its layout allows: A with k contiguous ('k4', the plain row-major case) or m
 *   contiguous ('m4', A^T, as autograd's dB = A^T @ dC uses), B with n contiguous ('n4') or k
 *   contiguous ('k4', B^T, as in dA = dC @ B^T); otherwise scalar loads through arbitrary strides
 *   ('s'). The k loop is unrolled by 4 (one vec4 of a 'k4' operand per step). Skinny problems
 *   use a short TM (as many rows as there are, up to 4) and workgroups of 16 along N, so that a
 *   [1, K] @ [K, N] product is spread over N/4 invocations in several workgroups.
 *
 * Batch axes are the grid's z (split into several dispatches past 65,535 matrices); broadcast
 * batch axes have stride 0 and cost no copies.
 */

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
};

/** One operand's strides in elements: s0/s1 for its two matrix axes, then its batch axes. */
interface Operand {
  off: number;
  s0: number;
  s1: number;
  batch: number[];
}

/** A matmul's sizes and layouts, with size-1 batch axes dropped and size-1 axes' strides zeroed. */
interface Geometry {
  M: number;
  N: number;
  K: number;
  T: 'f32' | 'i32';
  batchShape: number[];
  batch: number;
  a: Operand;
  b: Operand;
  o: Operand;
  /** The bias epilogue's vector [N]: offset and stride, or null (see recordMatmul). */
  bias: { off: number; s: number } | null;
}

/** How the buffer kernel loads A: vec4 along k (row-major), vec4 along m (A^T), or scalars. */
export type AMode = 'k4' | 'm4' | 's';
/** How the buffer kernel loads B: vec4 along n (row-major), vec4 along k (B^T), or scalars. */
export type BMode = 'n4' | 'k4' | 's';

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

const MAX_Z = 65535;

function geometry(a: View, b: View, out: View): Geometry {
  const ra = a.shape.length;
  const ro = out.shape.length;
  const M = a.shape[ra - 2] as number;
  const K = a.shape[ra - 1] as number;
  const N = out.shape[ro - 1] as number;
  const full = out.shape.slice(0, -2);
  // Size-1 batch axes do nothing: dropping them means fewer kernel variants.
  const keep = full.map((d) => d !== 1);
  const pick = (v: View): number[] => v.strides.slice(0, -2).filter((_, i) => keep[i]);
  const operand = (v: View, d0: number, d1: number): Operand => {
    const r = v.shape.length;
    return {
      off: v.offset,
      s0: d0 === 1 ? 0 : (v.strides[r - 2] as number),
      s1: d1 === 1 ? 0 : (v.strides[r - 1] as number),
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
      expect *= g.batchShape[d] as number;
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

function aModeOf(g: Geometry, TM: number): AMode {
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
function slabs(g: Geometry, x: Operand): number {
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
function storageTextureRead(): boolean {
  const gpu = (globalThis as { navigator?: { gpu?: { wgslLanguageFeatures?: ReadonlySet<string> } } }).navigator?.gpu;
  const features = gpu?.wgslLanguageFeatures;
  return features === undefined || features.has('readonly_and_readwrite_storage_textures');
}

/**
 * Chooses the kernel family and its tile shape for out = a @ b. `bPacked`: B's packed texture is (or will be) kept for later products with the same B, as with
 * h_t @ U at every step of a recurrence; then at most A is packed per product (for few rows it
 * is read in place), and the texture path pays from far smaller products (textureMinWorkPacked).
 */
function choose(g: Geometry, device: MatmulDevice, bPacked: boolean): MatmulPlan {
  const mode = matmulTuning.path;
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
function workgroupFor(g: Geometry, TM: number, TN: number): { WX: number; WY: number } {
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

/** Records the dispatches of out = a @ b (out contiguous and non-empty). */
export function recordMatmul(target: MatmulTarget, a: View, b: View, out: View, bias: View | null = null): void {
  const g = geometry(a, b, out);
  // out = a @ b + bias, the bias [N] added to every row as the results are stored
  if (bias) g.bias = { off: bias.offset, s: bias.strides[0] as number };
  const cache = packedOf(target);
  const bContents = target.contents(b);
  const bKey = packKey(g.b, g.batchShape, g.K, g.N);
  const bPacked = cache.reused(bContents, bKey);
  const plan = choose(
    g,
    { limits: target.device.limits, featureLevel: target.featureLevel, software: target.software },
    bPacked,
  );
  matmulTuning.onPlan?.(plan);
  if (plan.path === 'texture')
    recordTexture(target, g, plan, a, b, out, bPacked ? { contents: bContents, key: bKey } : null, bias);
  else recordBuffer(target, g, plan, a, b, out, bias);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * The bias epilogue: binding 4, and WGSL that adds bias[col] to every row of each accumulator
 * group before the stores (`col(j, q)`: the WGSL for column q of group j). Its two parameters
 * (offset, stride) go last, so a kernel without bias keeps its parameter layout.
 */
function biasEpilogue(
  g: Geometry,
  params: Params,
  T: string,
  rows: number[],
  groups: number[],
  col: (j: number, q: number) => string,
): { decl: string; lines: string } {
  if (!g.bias) return { decl: '', lines: '' };
  const at = params.push(g.bias.off, g.bias.s);
  const lines = groups.map((j) => {
    const parts = range(4).map((q) => `Bias[${P(at)} + min(${col(j, q)}, N - 1) * ${P(at + 1)}]`);
    return `let bias${j} = vec4<${T}>(${parts.join(', ')});\n  ${rows.map((i) => `acc${i}_${j} = acc${i}_${j} + bias${j};`).join(' ')}`;
  });
  return { decl: `@group(0) @binding(4) var<storage, read> Bias: array<${T}>;`, lines: lines.join('\n  ') };
}

/** "[M, K] @ [K, N]" (with the batch shape), for error messages and the profiler. */
const dims = (g: Geometry): string =>
  `${g.batchShape.length ? `[${g.batchShape.join(', ')}] x ` : ''}[${g.M}, ${g.K}] @ [${g.K}, ${g.N}]`;

/** WGSL that decomposes `z` over the batch shape and adds each coordinate times its strides. */
function batchLines(nb: number, shapeAt: number, targets: { name: string; stridesAt: number }[]): string {
  if (nb === 0) return '';
  const lines: string[] = [];
  for (let d = nb - 1; d >= 0; d--) {
    const adds = targets.map((t) => `${t.name} = ${t.name} + c * ${P(t.stridesAt + d)};`).join(' ');
    lines.push(`{ let c = zr % ${P(shapeAt + d)}; zr = zr / ${P(shapeAt + d)}; ${adds} }`);
  }
  return lines.join('\n  ');
}

/** Splits the batch over dispatches of at most 65,535 workgroups along z. */
function recordOverBatch(g: Geometry, zBaseAt: number, params: Params, each: (p: Int32Array, z: number) => void): void {
  for (let z0 = 0; z0 < g.batch; z0 += MAX_Z) {
    params.words[zBaseAt] = z0;
    each(params.toArray(), Math.min(MAX_Z, g.batch - z0));
  }
}

// ---------------------------------------------------------------------------------------------
// Buffer path

function bufferKernel(g: Geometry, plan: BufferPlan): { key: string; code: string; params: Params; zBaseAt: number } {
  const { TM, TN, WX, WY, aMode, bMode, oVec } = plan;
  const T = g.T;
  const nb = g.batchShape.length;
  const params = new Params();
  params.push(g.M, g.N, g.K);
  const zBaseAt = params.push(0);
  params.push(g.a.off, g.b.off, g.o.off, g.a.s0, g.a.s1, g.b.s0, g.b.s1, g.o.s0, g.o.s1);
  const shapeAt = params.push(...g.batchShape);
  const aBs = params.push(...g.a.batch);
  const bBs = params.push(...g.b.batch);
  const oBs = params.push(...g.o.batch);
  const cols = 4 * TN;
  const V = `vec4<${T}>`;
  const rows = range(TM);
  const groups = range(TN);
  const kk4 = range(4);

  // Per-invocation bases (element or vec4 indices), computed once.
  const setup: string[] = [];
  if (aMode === 's') setup.push(...rows.map((i) => `let ar${i} = aOff + min(row0 + ${i}, M - 1) * sam;`));
  if (aMode === 'k4') setup.push(...rows.map((i) => `let ar${i} = (aOff + min(row0 + ${i}, M - 1) * sam) / 4;`));
  // m4: four rows per vec4; M is a multiple of 4, so a group past the edge is clamped whole.
  if (aMode === 'm4')
    setup.push(
      `let sak4 = sak / 4;`,
      ...range(TM / 4).map((q) => `let am${q} = (aOff + min(row0 + ${4 * q}, M - 4)) / 4;`),
    );
  if (bMode === 's') setup.push(...range(cols).map((c) => `let bc${c} = bOff + min(col0 + ${c}, N - 1) * sbn;`));
  if (bMode === 'n4')
    setup.push(`let sbk4 = sbk / 4;`, ...groups.map((j) => `let bg${j} = bOff / 4 + min(g0 + ${j}, N / 4 - 1);`));
  if (bMode === 'k4') setup.push(...range(cols).map((c) => `let bc${c} = (bOff + min(col0 + ${c}, N - 1) * sbn) / 4;`));

  // Loads of one step: `k` is the WGSL expression of the step's first k. A k4-mode operand reads
  // four k at once (one vec4 per row or column), the others read each k of the step separately.
  const loads = (k: string, steps: number[], k4: string): string[] => {
    const out: string[] = [];
    if (aMode === 'k4') out.push(...rows.map((i) => `let av${i} = A[ar${i} + ${k4}];`));
    for (const s of steps) {
      const ks = s === 0 ? k : `(${k} + ${s})`;
      if (aMode === 's') out.push(...rows.map((i) => `let a${i}_${s} = A[ar${i} + ${ks} * sak];`));
      if (aMode === 'm4') out.push(...range(TM / 4).map((q) => `let am${q}_${s} = A[am${q} + ${ks} * sak4];`));
      if (bMode === 's') out.push(...range(cols).map((c) => `let b${c}_${s} = B[bc${c} + ${ks} * sbk];`));
      if (bMode === 'n4') out.push(...groups.map((j) => `let bv${j}_${s} = B[bg${j} + ${ks} * sbk4];`));
    }
    if (bMode === 'k4') out.push(...range(cols).map((c) => `let bk${c} = B[bc${c} + ${k4}];`));
    return out;
  };
  const aAt = (i: number, s: number): string =>
    aMode === 'k4' ? `av${i}[${s}]` : aMode === 'm4' ? `am${i >> 2}_${s}[${i & 3}]` : `a${i}_${s}`;
  const bAt = (j: number, s: number): string => {
    if (bMode === 'n4') return `bv${j}_${s}`;
    const c = range(4).map((q) => (bMode === 'k4' ? `bk${4 * j + q}[${s}]` : `b${4 * j + q}_${s}`));
    return `${V}(${c.join(', ')})`;
  };
  const madd = (acc: string, x: string, y: string): string =>
    T === 'f32' ? `fma(${V}(${x}), ${y}, ${acc})` : `${acc} + ${V}(${x}) * ${y}`;
  const accumulate = (steps: number[]): string[] =>
    rows.flatMap((i) =>
      groups.map((j) => `acc${i}_${j} = ${steps.reduce((s, kk) => madd(s, aAt(i, kk), bAt(j, kk)), `acc${i}_${j}`)};`),
    );

  const hasTail = aMode !== 'k4' && bMode !== 'k4'; // k4 modes imply K % 4 == 0
  const stores = rows.flatMap((i) =>
    groups.map((j) => {
      if (oVec)
        return `if (row0 + ${i} < M && g0 + ${j} < N / 4) { O[(oOff + (row0 + ${i}) * som) / 4 + g0 + ${j}] = acc${i}_${j}; }`;
      const comps = range(4)
        .map((q) => `if (col0 + ${4 * j + q} < N) { O[ob + (col0 + ${4 * j + q}) * son] = acc${i}_${j}[${q}]; }`)
        .join(' ');
      return `if (row0 + ${i} < M) { let ob = oOff + (row0 + ${i}) * som; ${comps} }`;
    }),
  );
  const binding = (vec: boolean): string => (vec ? V : T);
  const epilogue = biasEpilogue(g, params, T, rows, groups, (j, q) => `col0 + ${4 * j + q}`);
  const code = `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> O: array<${binding(oVec)}>;
@group(0) @binding(2) var<storage, read> A: array<${binding(aMode !== 's')}>;
@group(0) @binding(3) var<storage, read> B: array<${binding(bMode !== 's')}>;
${epilogue.decl}
// Register-blocked matmul over storage buffers: ${TM} rows x ${cols} columns per invocation
// (A loads: ${aMode}, B loads: ${bMode}).
@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P(0)}; let N = ${P(1)}; let K = ${P(2)};
  var zr = i32(gid.z) + ${P(zBaseAt)};
  var aOff = ${P(zBaseAt + 1)}; var bOff = ${P(zBaseAt + 2)}; var oOff = ${P(zBaseAt + 3)};
  ${batchLines(nb, shapeAt, [
    { name: 'aOff', stridesAt: aBs },
    { name: 'bOff', stridesAt: bBs },
    { name: 'oOff', stridesAt: oBs },
  ])}
  let sam = ${P(zBaseAt + 4)}; let sak = ${P(zBaseAt + 5)}; let sbk = ${P(zBaseAt + 6)}; let sbn = ${P(zBaseAt + 7)};
  let som = ${P(zBaseAt + 8)}; let son = ${P(zBaseAt + 9)};
  let row0 = i32(gid.y) * ${TM};
  let g0 = i32(gid.x) * ${TN};
  let col0 = g0 * 4;
  // Rows and columns past the edge are clamped to the last one: loads stay in bounds, stores are masked.
  ${setup.join('\n  ')}
${rows.flatMap((i) => groups.map((j) => `  var acc${i}_${j} = ${V}();`)).join('\n')}
  let K4 = K / 4;
  for (var k4 = 0; k4 < K4; k4 = k4 + 1) {
    let k = k4 * 4;
    ${loads('k', kk4, 'k4').join('\n    ')}
    ${accumulate(kk4).join('\n    ')}
  }${
    hasTail
      ? `
  for (var k = K4 * 4; k < K; k = k + 1) {
    ${loads('k', [0], 'k4').join('\n    ')}
    ${accumulate([0]).join('\n    ')}
  }`
      : ''
  }
  ${epilogue.lines}
  ${stores.join('\n  ')}
}`;
  const key = `matmul-buf|${T}|${TM}x${TN}|${WX}x${WY}|${aMode}|${bMode}|${oVec}|${nb}|${g.bias ? 'bias' : ''}|${params.words.length}`;
  return { key, code, params, zBaseAt };
}

function recordBuffer(
  target: MatmulTarget,
  g: Geometry,
  plan: BufferPlan,
  a: View,
  b: View,
  out: View,
  bias: View | null,
): void {
  const k = bufferKernel(g, plan);
  const pipeline = target.pipeline(k.key, k.code, 'matmul');
  const buffers = [target.buffer(out), target.buffer(a), target.buffer(b), ...(bias ? [target.buffer(bias)] : [])];
  const x = Math.ceil(g.N / (4 * plan.TN * plan.WX));
  const y = Math.ceil(g.M / (plan.TM * plan.WY));
  recordOverBatch(g, k.zBaseAt, k.params, (params, z) => {
    target.engine.record({
      kind: 'dispatch',
      op: `matmul ${dims(g)} (buffer)`,
      pipeline,
      buffers,
      params,
      workgroups: [Math.max(1, x), Math.max(1, y), z],
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Texture path

/** rgba32float textures for packed operands, pooled per device by (rounded) size. */
class TexturePool {
  private readonly free = new Map<string, GPUTexture[]>();
  private readonly views = new WeakMap<GPUTexture, GPUTextureView>();
  private pooledBytes = 0;
  /** Past this, released textures are destroyed (after the batch that uses them is submitted). */
  static readonly LIMIT = 64 * 1024 * 1024;

  constructor(private readonly device: GPUDevice) {}

  acquire(width: number, height: number, layers: number): GPUTexture {
    // Rounded up so that nearby shapes share textures; kernels never read past the used region.
    const w = Math.ceil(width / 16) * 16;
    const h = Math.ceil(height / 16) * 16;
    const t = this.free.get(`${w}x${h}x${layers}`)?.pop();
    if (t) {
      this.pooledBytes -= bytesOf(t);
      return t;
    }
    return this.device.createTexture({
      size: [w, h, layers],
      format: 'rgba32float',
      usage: GPUTextureUsage.STORAGE_BINDING,
      label: 'wgru matmul operand',
    });
  }

  view(t: GPUTexture): GPUTextureView {
    let v = this.views.get(t);
    if (!v) {
      v = t.createView({ dimension: '2d-array' });
      this.views.set(t, v);
    }
    return v;
  }

  /**
   * Returns a texture whose uses are recorded. Reuse by a later matmul of the same batch is safe:
   * the queue runs dispatches in order, so its pack writes only after this matmul has read.
   */
  release(t: GPUTexture, engine: Engine): void {
    const bytes = bytesOf(t);
    if (this.pooledBytes + bytes > TexturePool.LIMIT) {
      engine.destroyAfterSubmit(t);
      return;
    }
    const key = `${t.width}x${t.height}x${t.depthOrArrayLayers}`;
    let list = this.free.get(key);
    if (!list) {
      list = [];
      this.free.set(key, list);
    }
    list.push(t);
    this.pooledBytes += bytes;
  }
}

const bytesOf = (t: GPUTexture): number => t.width * t.height * t.depthOrArrayLayers * 16;
const pools = new WeakMap<GPUDevice, TexturePool>();

function poolOf(device: GPUDevice): TexturePool {
  let p = pools.get(device);
  if (!p) {
    p = new TexturePool(device);
    pools.set(device, p);
  }
  return p;
}

/**
 * The pack kernel: texel (c4, r) of layer l = elements [4*c4, 4*c4 + 4) of row r of the l-th
 * distinct matrix of the operand, read through its strides; zero past `inner` columns and past
 * `valid` rows.
 */
function packKernel(
  x: Operand,
  shape: number[],
  rows: number,
  valid: number,
  inner: number,
  vec: boolean,
): { key: string; code: string; params: Int32Array; n: number } {
  const dims = shape.map((d, i) => ({ d, s: x.batch[i] as number })).filter((e) => e.s !== 0);
  const layers = dims.reduce((n, e) => n * e.d, 1);
  const W = Math.ceil(inner / 4);
  const n = W * rows * layers;
  const params = new Params();
  params.push(n, W, rows, valid, inner, x.off, x.s0, x.s1);
  const sizesAt = params.push(...dims.map((e) => e.d));
  const stridesAt = params.push(...dims.map((e) => e.s));
  const nd = dims.length;
  const batch: string[] = [];
  for (let d = nd - 1; d >= 0; d--)
    batch.push(
      `{ let c = rem % ${P(sizesAt + d)}; rem = rem / ${P(sizesAt + d)}; off = off + c * ${P(stridesAt + d)}; }`,
    );
  const read = vec
    ? `v = src[base / 4];`
    : `let s = ${P(7)}; let n = ${P(4)};
    if (i0 + 3 < n) { v = vec4<f32>(src[base], src[base + s], src[base + 2 * s], src[base + 3 * s]); }
    else {
      if (i0 < n) { v.x = src[base]; }
      if (i0 + 1 < n) { v.y = src[base + s]; }
      if (i0 + 2 < n) { v.z = src[base + 2 * s]; }
    }`;
  const code = `${paramsDecl(params.words.length)}
@group(0) @binding(1) var dst: texture_storage_2d_array<rgba32float, write>;
@group(0) @binding(2) var<storage, read> src: array<${vec ? 'vec4<f32>' : 'f32'}>;
${ENTRY_1D()} {
  ${linearIndex()}
  if (k >= ${P(0)}) { return; }
  let W = ${P(1)}; let R = ${P(2)};
  let c4 = k % W;
  let rest = k / W;
  let r = rest % R;
  let layer = rest / R;
  var rem = layer;
  var off = ${P(5)};
  ${batch.join('\n  ')}
  var v = vec4<f32>();
  let i0 = c4 * 4;
  if (r < ${P(3)}) {
    let base = off + r * ${P(6)} + i0 * ${P(7)};
    ${read}
  }
  textureStore(dst, vec2<i32>(c4, r), layer, v);
}`;
  return { key: `matmul-pack|${vec}|${nd}`, code, params: params.toArray(), n };
}

function textureKernel(g: Geometry, plan: TexturePlan): { key: string; code: string; params: Params; zBaseAt: number } {
  const { TM, TN, WX, WY, oVec } = plan;
  const nb = g.batchShape.length;
  // Layer strides: each operand's distinct matrices are numbered row-major over its non-broadcast axes.
  const layerStrides = (x: Operand): number[] => {
    const s = new Array<number>(nb).fill(0);
    let acc = 1;
    for (let d = nb - 1; d >= 0; d--) {
      if (x.batch[d] !== 0) {
        s[d] = acc;
        acc *= g.batchShape[d] as number;
      }
    }
    return s;
  };
  const params = new Params();
  params.push(g.M, g.N, Math.ceil(g.K / 4));
  const zBaseAt = params.push(0);
  params.push(Math.ceil(g.N / 4), g.o.off, g.o.s0, g.o.s1);
  // A read in place (aBuffer, no batch axes): its offset and row stride, multiples of 4.
  const aAt = params.push(g.a.off, g.a.s0);
  const shapeAt = params.push(...g.batchShape);
  const laAt = params.push(...layerStrides(g.a));
  const lbAt = params.push(...layerStrides(g.b));
  const oBs = params.push(...g.o.batch);
  const rows = range(TM);
  const groups = range(TN);
  const kk4 = range(4);
  const axis = ['x', 'y', 'z', 'w'];
  const accumulate = rows.flatMap((i) =>
    groups.map(
      (j) =>
        `acc${i}_${j} = ${kk4.reduce((s, kk) => `fma(vec4<f32>(a${i}.${axis[kk]}), b${kk}_${j}, ${s})`, `acc${i}_${j}`)};`,
    ),
  );
  const stores = rows.flatMap((i) =>
    groups.map((j) => {
      if (oVec)
        return `if (row0 + ${i} < M && g0 + ${j} < N4) { O[(oOff + (row0 + ${i}) * som) / 4 + g0 + ${j}] = acc${i}_${j}; }`;
      const comps = range(4)
        .map((q) => `if (c + ${q} < N) { O[ob + (c + ${q}) * son] = acc${i}_${j}.${axis[q]}; }`)
        .join(' ');
      return `if (row0 + ${i} < M) { let ob = oOff + (row0 + ${i}) * som; let c = (g0 + ${j}) * 4; ${comps} }`;
    }),
  );
  const aBuffer = plan.aBuffer;
  const epilogue = biasEpilogue(g, params, 'f32', rows, groups, (j, q) => `(g0 + ${j}) * 4 + ${q}`);
  const code = `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> O: array<${oVec ? 'vec4<f32>' : 'f32'}>;
${aBuffer ? '@group(0) @binding(2) var<storage, read> A: array<vec4<f32>>;' : '@group(0) @binding(2) var tA: texture_storage_2d_array<rgba32float, read>;'}
@group(0) @binding(3) var tB: texture_storage_2d_array<rgba32float, read>;
${epilogue.decl}
// Register-blocked matmul over packed operands: ${TM} rows x ${4 * TN} columns per invocation.
// A texel of A holds 4 consecutive k of one row; a texel of B, 4 consecutive columns of one k.
@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P(0)}; let N = ${P(1)}; let K4 = ${P(2)}; let N4 = ${P(zBaseAt + 1)};
  var zr = i32(gid.z) + ${P(zBaseAt)};
  var la = 0; var lb = 0; var oOff = ${P(zBaseAt + 2)};
  ${batchLines(nb, shapeAt, [
    { name: 'la', stridesAt: laAt },
    { name: 'lb', stridesAt: lbAt },
    { name: 'oOff', stridesAt: oBs },
  ])}
  let som = ${P(zBaseAt + 3)}; let son = ${P(zBaseAt + 4)};
  let row0 = i32(gid.y) * ${TM};
  let g0 = i32(gid.x) * ${TN};
  // Rows and column groups past the edge read the last one; their results are not stored.
${rows.map((i) => `  let ar${i} = min(row0 + ${i}, M - 1);`).join('\n')}
${aBuffer ? rows.map((i) => `  let ab${i} = (${P(aAt)} + ar${i} * ${P(aAt + 1)}) / 4;`).join('\n') : ''}
${groups.map((j) => `  let bc${j} = min(g0 + ${j}, N4 - 1);`).join('\n')}
${rows.flatMap((i) => groups.map((j) => `  var acc${i}_${j} = vec4<f32>();`)).join('\n')}
  for (var k4 = 0; k4 < K4; k4 = k4 + 1) {
    let k = k4 * 4;
${rows.map((i) => (aBuffer ? `    let a${i} = A[ab${i} + k4];` : `    let a${i} = textureLoad(tA, vec2<i32>(k4, ar${i}), la);`)).join('\n')}
${kk4.flatMap((kk) => groups.map((j) => `    let b${kk}_${j} = textureLoad(tB, vec2<i32>(bc${j}, k + ${kk}), lb);`)).join('\n')}
    ${accumulate.join('\n    ')}
  }
  ${epilogue.lines}
  ${stores.join('\n  ')}
}`;
  const key = `matmul-tex|${TM}x${TN}|${WX}x${WY}|${oVec}|${aBuffer}|${nb}|${g.bias ? 'bias' : ''}|${params.words.length}`;
  return { key, code, params, zBaseAt };
}

/** Stands for A's texture when A is read from its buffer (never bound, never released). */
const NO_TEXTURE = {} as GPUTexture;

function recordTexture(
  target: MatmulTarget,
  g: Geometry,
  plan: TexturePlan,
  a: View,
  b: View,
  out: View,
  keepB: { contents: { storage: object; version: number }; key: string } | null,
  bias: View | null,
): void {
  const pool = poolOf(target.device);
  const cache = packedOf(target);
  const engine = target.engine;
  const K4 = Math.ceil(g.K / 4);
  const N4 = Math.ceil(g.N / 4);
  const cachedB = keepB ? cache.get(keepB.contents, keepB.key) : null;
  // A: [M rows][K4 texels]; B: [4*K4 rows][N4 texels] (rows past K are zero, so the padded k of
  // both operands multiply to exactly 0).
  const packs = [
    {
      view: a,
      x: g.a,
      rows: g.M,
      valid: g.M,
      inner: g.K,
      width: K4,
      vec: plan.aVec,
      ready: plan.aBuffer ? NO_TEXTURE : null,
    },
    { view: b, x: g.b, rows: 4 * K4, valid: g.K, inner: g.N, width: N4, vec: plan.bVec, ready: cachedB },
  ].map((s) => {
    if (s.ready) return s.ready;
    const tex = pool.acquire(s.width, s.rows, slabs(g, s.x));
    recordPack(
      target,
      tex,
      s.view,
      s.x,
      g.batchShape,
      s.rows,
      s.valid,
      s.inner,
      s.vec,
      `matmul ${dims(g)} (pack ${s.view === a ? 'A' : 'B'})`,
    );
    return tex;
  });
  const [tA, tB] = packs as [GPUTexture, GPUTexture];
  const k = textureKernel(g, plan);
  const pipeline = target.pipeline(k.key, k.code, 'matmul');
  const buffers = [
    target.buffer(out),
    plan.aBuffer ? target.buffer(a) : pool.view(tA),
    pool.view(tB),
    ...(bias ? [target.buffer(bias)] : []),
  ];
  const x = Math.ceil(N4 / (plan.TN * plan.WX));
  const y = Math.ceil(g.M / (plan.TM * plan.WY));
  recordOverBatch(g, k.zBaseAt, k.params, (params, z) => {
    engine.record({
      kind: 'dispatch',
      op: `matmul ${dims(g)} (texture${plan.aBuffer ? ', A in place' : ''})`,
      pipeline,
      buffers,
      params,
      workgroups: [x, y, z],
    });
  });
  if (!plan.aBuffer) pool.release(tA, engine);
  if (keepB) {
    if (!cachedB) cache.put(keepB.contents, keepB.key, tB);
  } else pool.release(tB, engine);
}

/** Records the pack of operand `x` (read from `view`'s buffer) into `tex` (see packKernel). */
function recordPack(
  target: MatmulTarget,
  tex: GPUTexture,
  view: View,
  x: Operand,
  batchShape: number[],
  rows: number,
  valid: number,
  inner: number,
  vec: boolean,
  op: string,
): void {
  const k = packKernel(x, batchShape, rows, valid, inner, vec);
  target.engine.record({
    kind: 'dispatch',
    op,
    pipeline: target.pipeline(k.key, k.code, 'matmul'),
    buffers: [poolOf(target.device).view(tex), target.buffer(view)],
    params: k.params,
    workgroups: grid1d(k.n),
  });
}

/** What identifies an operand's packed texture besides its storage: its layout and extent. */
function packKey(x: Operand, batchShape: number[], rows: number, inner: number): string {
  return `${x.off}|${x.s0}|${x.s1}|${x.batch.join(',')}|${batchShape.join(',')}|${rows}|${inner}`;
}

interface PackedEntry {
  storage: object;
  version: number;
  key: string;
  tex: GPUTexture | null;
}

/**
 * Packed B operands kept between products. A recurrence multiplies by the same weights at every
 * step (h_t @ U forward, g_t @ U^T backward): packing U once instead of once per step saves a
 * pass over U per step. An operand is kept from its second use with the same contents (the first
 * use only notes it), and an entry is valid while its storage has had no write recorded since
 * (`version`, counted by the backend in recording order): after an optimizer's in-place update
 * of U, the next product packs it afresh. At most MAX entries, least recently used out first.
 */
class PackedOperands {
  static readonly MAX = 8;
  private entries: PackedEntry[] = [];

  constructor(
    private readonly pool: TexturePool,
    private readonly engine: Engine,
  ) {}

  private find(c: { storage: object; version: number }, key: string): PackedEntry | undefined {
    return this.entries.find((e) => e.storage === c.storage && e.key === key && e.version === c.version);
  }

  /** Whether this operand was used before with the same contents (noting it if not). */
  reused(c: { storage: object; version: number }, key: string): boolean {
    if (this.find(c, key)) return true;
    this.entries.push({ storage: c.storage, version: c.version, key, tex: null });
    this.trim();
    return false;
  }

  get(c: { storage: object; version: number }, key: string): GPUTexture | null {
    const e = this.find(c, key);
    if (!e?.tex) return null;
    // most recently used last
    this.entries.splice(this.entries.indexOf(e), 1);
    this.entries.push(e);
    return e.tex;
  }

  put(c: { storage: object; version: number }, key: string, tex: GPUTexture): void {
    const e = this.find(c, key);
    if (e) {
      e.tex = tex;
      this.entries.splice(this.entries.indexOf(e), 1);
      this.entries.push(e);
    } else this.entries.push({ storage: c.storage, version: c.version, key, tex });
    this.trim();
  }

  /** Drops the entries of a storage that was written or freed (their textures go back to the pool). */
  forget(storage: object): void {
    const keep: PackedEntry[] = [];
    for (const e of this.entries) {
      if (e.storage === storage) this.release(e);
      else keep.push(e);
    }
    this.entries = keep;
  }

  private release(e: PackedEntry): void {
    if (e.tex) this.pool.release(e.tex, this.engine);
    e.tex = null;
  }

  private trim(): void {
    while (this.entries.length > PackedOperands.MAX) this.release(this.entries.shift() as PackedEntry);
  }
}

const packedCaches = new WeakMap<GPUDevice, PackedOperands>();

function packedOf(target: MatmulTarget): PackedOperands {
  let c = packedCaches.get(target.device);
  if (!c) {
    c = new PackedOperands(poolOf(target.device), target.engine);
    packedCaches.set(target.device, c);
  }
  return c;
}

/** Called by the backend when a storage is written or freed: its packed copies are stale. */
export function forgetPacked(target: MatmulTarget, storage: object): void {
  packedCaches.get(target.device)?.forget(storage);
}

/**
 * A 2-D operand [K, N] (N a multiple of 4) packed into the texture layout of a matmul's B (texel
 * (q, k) = elements 4q..4q+3 of row k), for other kernels that read weights many times: the fused
 * GRU cell reads U and W this way at every generated token. Under the same policy as matmul's own
 * packed operands: null at the first use of these contents (nothing is packed for a one-off), then
 * packed once and kept while the storage is unwritten.
 */
export function packedWeights(target: MatmulTarget, v: View): GPUTextureView | null {
  if (v.shape.length !== 2 || target.featureLevel === 'compatibility' || !storageTextureRead()) return null;
  const [K, N] = v.shape as [number, number];
  if (N % 4 !== 0 || K === 0) return null;
  const limits = target.device.limits;
  if (N / 4 > limits.maxTextureDimension2D || K > limits.maxTextureDimension2D) return null;
  const x: Operand = {
    off: v.offset,
    s0: K === 1 ? 0 : (v.strides[0] as number),
    s1: v.strides[1] as number,
    batch: [],
  };
  const key = packKey(x, [], K, N);
  const cache = packedOf(target);
  const contents = target.contents(v);
  if (!cache.reused(contents, key)) return null;
  const pool = poolOf(target.device);
  let tex = cache.get(contents, key);
  if (!tex) {
    tex = pool.acquire(N / 4, K, 1);
    recordPack(
      target,
      tex,
      v,
      x,
      [],
      K,
      K,
      N,
      x.s1 === 1 && x.s0 % 4 === 0 && x.off % 4 === 0,
      `pack [${K}, ${N}] weights`,
    );
    cache.put(contents, key, tex);
  }
  return pool.view(tex);
}
