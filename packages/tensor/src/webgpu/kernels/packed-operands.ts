/**
 * Operands packed into textures, and kept: the pack kernel (an operand, read through its strides,
 * copied into an rgba32float texture), the pool those textures come from, and the cache that keeps
 * a packed operand between products while its storage is unwritten. The texture matmul kernel
 * (matmul-texture.ts) packs its operands this way, and the fused GRU cell (gru.ts) reads its
 * weights from the same cache (packedWeights).
 */
import type { View } from '../../backend.js';
import type { Engine } from '../engine.js';
import { ENTRY_1D, grid1d, linearIndex, P, Params, paramsDecl } from './common.js';
import { type MatmulTarget, type Operand, storageTextureRead } from './matmul-plan.js';

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

export function poolOf(device: GPUDevice): TexturePool {
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
  const dims = shape.map((d, i) => ({ d, s: x.batch[i] })).filter((e) => e.s !== 0);
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

/** Records the pack of operand `x` (read from `view`'s buffer) into `tex` (see packKernel). */
export function recordPack(
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
export function packKey(x: Operand, batchShape: number[], rows: number, inner: number): string {
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

export function packedOf(target: MatmulTarget): PackedOperands {
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
    s0: K === 1 ? 0 : v.strides[0],
    s1: v.strides[1],
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
