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
  readonly stats: EngineStats = { dispatches: 0, submits: 0, uploads: 0, reads: 0, bindGroups: 0 };
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
      out[k] = src[o[0]];
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
    const keptShape = keep.map((i) => x.shape[i]);
    const redShape = axes.map((i) => x.shape[i]);
    const keptView = { strides: keep.map((i) => x.strides[i]), offset: x.offset };
    const redStrides = axes.map((i) => x.strides[i]);
    const isInt = x.dtype === 'int32';
    forEachIndex(keptShape, [keptView], (k, base) => {
      let acc = op === 'sum' ? 0 : op === 'prod' ? 1 : op === 'max' || op === 'argmax' ? -Infinity : Infinity;
      let best = 0;
      let nan = false;
      forEachIndex(redShape, [{ strides: redStrides, offset: base[0] }], (r, o) => {
        const v = src[o[0]];
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
    const m = a.shape[ra - 2];
    const k = a.shape[ra - 1];
    const n = b.shape[b.shape.length - 1];
    const batchShape = out.shape.slice(0, -2);
    const A = arr(a);
    const B = arr(b);
    const C = arr(out);
    const sam = a.strides[ra - 2];
    const sak = a.strides[ra - 1];
    const sbk = b.strides[b.shape.length - 2];
    const sbn = b.strides[b.shape.length - 1];
    const views = [
      { strides: a.strides.slice(0, -2), offset: a.offset },
      { strides: b.strides.slice(0, -2), offset: b.offset },
      { strides: out.strides.slice(0, -2), offset: out.offset },
    ];
    const som = out.strides[out.shape.length - 2];
    const son = out.strides[out.shape.length - 1];
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
          const av = A[oa + i * sam + p * sak];
          const bo = ob + p * sbk;
          for (let j = 0; j < n; j++) row[j] = (row[j] + Math.imul(av, B[bo + j * sbn])) | 0;
        }
        for (let j = 0; j < n; j++) C[oc + i * som + j * son] = row[j];
      }
    });
    if (bias) {
      // The same sums as a matmul then an add: the product stored first, then the bias added.
      const bv = arr(bias);
      const sb = bias.strides[0];
      forEachIndex(batchShape, [{ strides: out.strides.slice(0, -2), offset: out.offset }], (_, o) => {
        const oc = o[0];
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const at = oc + i * som + j * son;
            const v = C[at] + bv[bias.offset + j * sb];
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
    const dim = x.shape[axis];
    // out index = (outer..., idx..., inner...) -> x index = (outer..., indices[idx...], inner...)
    let k = 0;
    const outShape = out.shape;
    const coord = new Array<number>(outShape.length).fill(0);
    const total = dst.length === 0 ? 0 : outShape.reduce((p, d) => p * d, 1);
    for (k = 0; k < total; k++) {
      let rem = k;
      for (let d = outShape.length - 1; d >= 0; d--) {
        const s = outShape[d];
        coord[d] = rem % s;
        rem = Math.floor(rem / s);
      }
      let io = indices.offset;
      for (let d = 0; d < ir; d++) io += coord[axis + d] * indices.strides[d];
      const j = wrapIndex(idx[io], dim);
      let oo = out.offset;
      for (let d = 0; d < outShape.length; d++) oo += coord[d] * out.strides[d];
      if (j < 0) {
        dst[oo] = 0;
        continue;
      }
      let xo = x.offset;
      for (let d = 0; d < axis; d++) xo += coord[d] * x.strides[d];
      xo += j * x.strides[axis];
      for (let d = axis + 1; d < x.shape.length; d++) xo += coord[d - 1 + ir] * x.strides[d];
      dst[oo] = src[xo];
    }
  }

  scatterAdd(src: View, indices: View, axis: number, out: View): void {
    this.stats.dispatches++;
    const s = arr(src);
    const idx = arr(indices);
    const dst = arr(out);
    const ir = indices.shape.length;
    const dim = out.shape[axis];
    const srcShape = src.shape;
    const total = srcShape.reduce((p, d) => p * d, 1);
    const coord = new Array<number>(srcShape.length).fill(0);
    for (let k = 0; k < total; k++) {
      let rem = k;
      for (let d = srcShape.length - 1; d >= 0; d--) {
        const n = srcShape[d];
        coord[d] = rem % n;
        rem = Math.floor(rem / n);
      }
      let io = indices.offset;
      for (let d = 0; d < ir; d++) io += coord[axis + d] * indices.strides[d];
      const j = wrapIndex(idx[io], dim);
      if (j < 0) continue;
      let so = src.offset;
      for (let d = 0; d < srcShape.length; d++) so += coord[d] * src.strides[d];
      let oo = out.offset;
      for (let d = 0; d < axis; d++) oo += coord[d] * out.strides[d];
      oo += j * out.strides[axis];
      for (let d = axis + 1; d < out.shape.length; d++) oo += coord[d - 1 + ir] * out.strides[d];
      dst[oo] = dst[oo] + s[so];
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
      dst[o[0]] = kind === 'uniform' ? uniformFromBits(w[0]) : normalFromBits(w[0], w[1]);
    });
  }

  flush(): void {}

  memory(): { bytesInUse: number; bytesPooled: number } {
    return { bytesInUse: this.bytes, bytesPooled: 0 };
  }

  destroy(): void {}
}
