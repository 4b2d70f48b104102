import type { Backend, BackendInfo, EngineStats, GruCellArgs, ReduceOp, Storage, View } from '../backend.js';
import { CpuElementwise } from './elementwise.js';
import { matmulFloat } from './matmul.js';
import { gruCellCpu } from './recurrent.js';
import { allocHost, bytesPerElement, type DType, type TypedArray } from '../dtype.js';
import type { Expr } from '../expr.js';
import { normalFromBits, philox4x32, seedKey, uniformFromBits } from '../random/philox.js';
import { forEachIndex } from './strided.js';

/** CPU storage: a host typed array. */
export class CpuStorage implements Storage {
  refs = 0;
  constructor(
    readonly array: TypedArray,
    readonly dtype: DType,
  ) {}
  get byteLength(): number {
    return this.array.byteLength;
  }
}

function arr(v: View): TypedArray {
  return (v.storage as CpuStorage).array;
}

/** An index along an axis of length `dim`: negative ones count from the end; -1 if out of range. */
function wrapIndex(j: number, dim: number): number {
  const w = j < 0 ? j + dim : j;
  return w >= 0 && w < dim ? w : -1;
}

/**
 * The reference backend: plain loops in float64 arithmetic over host typed arrays, written
 * independently of the WGSL kernels so that it can judge them. Also the fallback where no WebGPU
 * adapter exists.
 */
export class CpuBackend implements Backend {
  readonly info: BackendInfo = { name: 'cpu' };
  readonly stats: EngineStats = { dispatches: 0, submits: 0, uploads: 0, reads: 0 };
  readonly maxBufferBytes = Number.POSITIVE_INFINITY;
  private bytes = 0;
  private readonly elementwise = new CpuElementwise();

  supports(_dtype: DType): boolean {
    return true;
  }

  alloc(dtype: DType, size: number): Storage {
    this.bytes += size * bytesPerElement(dtype);
    return new CpuStorage(allocHost(dtype, size), dtype);
  }

  upload(data: TypedArray): Storage {
    const s = new CpuStorage(
      data.slice(),
      data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'float64',
    );
    this.bytes += s.byteLength;
    this.stats.uploads++;
    return s;
  }

  free(storage: Storage): void {
    this.bytes -= storage.byteLength;
  }

  async read(view: View): Promise<TypedArray> {
    this.stats.reads++;
    return this.readSync(view);
  }

  readSync(view: View): TypedArray {
    const src = arr(view);
    let size = 1;
    for (const d of view.shape) size *= d;
    const out = allocHost(view.dtype, size);
    forEachIndex(view.shape, [view], (k, o) => {
      out[k] = src[o[0] as number] as number;
    });
    return out;
  }

  map(expr: Expr, inputs: readonly View[], out: View): void {
    this.stats.dispatches++;
    this.elementwise.map(expr, inputs, out);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
    this.stats.dispatches++;
    const src = arr(x);
    const dst = arr(out);
    const keep = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const keptShape = keep.map((i) => x.shape[i] as number);
    const redShape = axes.map((i) => x.shape[i] as number);
    const keptView = { strides: keep.map((i) => x.strides[i] as number), offset: x.offset };
    const redStrides = axes.map((i) => x.strides[i] as number);
    const isInt = x.dtype === 'int32';
    forEachIndex(keptShape, [keptView], (k, base) => {
      let acc = op === 'sum' ? 0 : op === 'prod' ? 1 : op === 'max' || op === 'argmax' ? -Infinity : Infinity;
      let best = 0;
      let nan = false;
      forEachIndex(redShape, [{ strides: redStrides, offset: base[0] as number }], (r, o) => {
        const v = src[o[0] as number] as number;
        switch (op) {
          case 'sum':
            acc = isInt ? (acc + v) | 0 : acc + v;
            break;
          case 'prod':
            acc = isInt ? Math.imul(acc, v) : acc * v;
            break;
          case 'max':
          case 'argmax':
            // NaN wins, and argmax points at the first NaN, as in NumPy.
            if (nan) break;
            if (Number.isNaN(v)) {
              nan = true;
              best = r;
            } else if (r === 0 || v > acc) {
              acc = v;
              best = r;
            }
            break;
          case 'min':
          case 'argmin':
            if (nan) break;
            if (Number.isNaN(v)) {
              nan = true;
              best = r;
            } else if (r === 0 || v < acc) {
              acc = v;
              best = r;
            }
            break;
        }
      });
      if (op === 'argmax' || op === 'argmin') dst[out.offset + k] = best;
      else dst[out.offset + k] = nan ? Number.NaN : acc;
    });
  }

  matmul(a: View, b: View, out: View, bias: View | null = null): void {
    this.stats.dispatches++;
    const ra = a.shape.length;
    const m = a.shape[ra - 2] as number;
    const k = a.shape[ra - 1] as number;
    const n = b.shape[b.shape.length - 1] as number;
    const batchShape = out.shape.slice(0, -2);
    const A = arr(a);
    const B = arr(b);
    const C = arr(out);
    const sam = a.strides[ra - 2] as number;
    const sak = a.strides[ra - 1] as number;
    const sbk = b.strides[b.shape.length - 2] as number;
    const sbn = b.strides[b.shape.length - 1] as number;
    const views = [
      { strides: a.strides.slice(0, -2), offset: a.offset },
      { strides: b.strides.slice(0, -2), offset: b.offset },
      { strides: out.strides.slice(0, -2), offset: out.offset },
    ];
    const som = out.strides[out.shape.length - 2] as number;
    const son = out.strides[out.shape.length - 1] as number;
    const row = new Float64Array(n);
    const isInt = out.dtype === 'int32';
    forEachIndex(batchShape, views, (_, o) => {
      const [oa, ob, oc] = o as [number, number, number];
      if (!isInt) {
        matmulFloat(
          { array: A, offset: oa, rowStride: sam, colStride: sak },
          { array: B, offset: ob, rowStride: sbk, colStride: sbn },
          { array: C, offset: oc, rowStride: som, colStride: son },
          m,
          k,
          n,
          row,
        );
        return;
      }
      for (let i = 0; i < m; i++) {
        row.fill(0);
        for (let p = 0; p < k; p++) {
          const av = A[oa + i * sam + p * sak] as number;
          const bo = ob + p * sbk;
          for (let j = 0; j < n; j++) row[j] = ((row[j] as number) + Math.imul(av, B[bo + j * sbn] as number)) | 0;
        }
        for (let j = 0; j < n; j++) C[oc + i * som + j * son] = row[j] as number;
      }
    });
    if (bias) {
      // The same sums as a matmul then an add: the product stored first, then the bias added.
      const bv = arr(bias);
      const sb = bias.strides[0] as number;
      forEachIndex(batchShape, [{ strides: out.strides.slice(0, -2), offset: out.offset }], (_, o) => {
        const oc = o[0] as number;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const at = oc + i * som + j * son;
            const v = (C[at] as number) + (bv[bias.offset + j * sb] as number);
            C[at] = isInt ? v | 0 : v;
          }
        }
      });
    }
  }

  gather(x: View, indices: View, axis: number, out: View): void {
    this.stats.dispatches++;
    const src = arr(x);
    const idx = arr(indices);
    const dst = arr(out);
    const ir = indices.shape.length;
    const dim = x.shape[axis] as number;
    // out index = (outer..., idx..., inner...) -> x index = (outer..., indices[idx...], inner...)
    let k = 0;
    const outShape = out.shape;
    const coord = new Array<number>(outShape.length).fill(0);
    const total = dst.length === 0 ? 0 : outShape.reduce((p, d) => p * d, 1);
    for (k = 0; k < total; k++) {
      let rem = k;
      for (let d = outShape.length - 1; d >= 0; d--) {
        const s = outShape[d] as number;
        coord[d] = rem % s;
        rem = Math.floor(rem / s);
      }
      let io = indices.offset;
      for (let d = 0; d < ir; d++) io += (coord[axis + d] as number) * (indices.strides[d] as number);
      const j = wrapIndex(idx[io] as number, dim);
      let oo = out.offset;
      for (let d = 0; d < outShape.length; d++) oo += (coord[d] as number) * (out.strides[d] as number);
      if (j < 0) {
        dst[oo] = 0;
        continue;
      }
      let xo = x.offset;
      for (let d = 0; d < axis; d++) xo += (coord[d] as number) * (x.strides[d] as number);
      xo += j * (x.strides[axis] as number);
      for (let d = axis + 1; d < x.shape.length; d++) xo += (coord[d - 1 + ir] as number) * (x.strides[d] as number);
      dst[oo] = src[xo] as number;
    }
  }

  scatterAdd(src: View, indices: View, axis: number, out: View): void {
    this.stats.dispatches++;
    const s = arr(src);
    const idx = arr(indices);
    const dst = arr(out);
    const ir = indices.shape.length;
    const dim = out.shape[axis] as number;
    const srcShape = src.shape;
    const total = srcShape.reduce((p, d) => p * d, 1);
    const coord = new Array<number>(srcShape.length).fill(0);
    for (let k = 0; k < total; k++) {
      let rem = k;
      for (let d = srcShape.length - 1; d >= 0; d--) {
        const n = srcShape[d] as number;
        coord[d] = rem % n;
        rem = Math.floor(rem / n);
      }
      let io = indices.offset;
      for (let d = 0; d < ir; d++) io += (coord[axis + d] as number) * (indices.strides[d] as number);
      const j = wrapIndex(idx[io] as number, dim);
      if (j < 0) continue;
      let so = src.offset;
      for (let d = 0; d < srcShape.length; d++) so += (coord[d] as number) * (src.strides[d] as number);
      let oo = out.offset;
      for (let d = 0; d < axis; d++) oo += (coord[d] as number) * (out.strides[d] as number);
      oo += j * (out.strides[axis] as number);
      for (let d = axis + 1; d < out.shape.length; d++)
        oo += (coord[d - 1 + ir] as number) * (out.strides[d] as number);
      dst[oo] = (dst[oo] as number) + (s[so] as number);
    }
  }

  gruCell(args: GruCellArgs): void {
    this.stats.dispatches++;
    gruCellCpu(args);
  }

  random(kind: 'uniform' | 'normal', seed: number, out: View): void {
    this.stats.dispatches++;
    const [k0, k1] = seedKey(seed);
    const dst = arr(out);
    forEachIndex(out.shape, [out], (i, o) => {
      const w = philox4x32(i, k0, k1);
      dst[o[0] as number] = kind === 'uniform' ? uniformFromBits(w[0]) : normalFromBits(w[0], w[1]);
    });
  }

  flush(): void {}

  memory(): { bytesInUse: number; bytesPooled: number } {
    return { bytesInUse: this.bytes, bytesPooled: 0 };
  }

  destroy(): void {}
}
