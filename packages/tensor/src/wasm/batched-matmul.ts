/**
 * float32 matmul on the wasm backend: the batch axes walked here, one sgemm call per matrix, except
 * where one call does it all (see {@link rowsOfOneMatrix}). The
 * sgemm reads A and B through their strides (a transposed view costs nothing: packing reorders it
 * anyway); a bias whose last axis is not contiguous is copied into a temporary first.
 * @module
 */
import type { View } from '../backend.js';
import { forEachIndex } from '../cpu/strided.js';
import { sizeOf } from '../shape.js';
import { type Expr, inputLeaf } from '../expr.js';
import type { WasmBackend } from './backend.js';
import type { WasmStorage } from './heap.js';

const COPY: Expr = inputLeaf(0, 'float32');

/** out = a @ b (+ bias): a [...batch, m, k], b [...batch, k, n], out contiguous [...batch, m, n]. */
export function matmulWasm(be: WasmBackend, a: View, b: View, out: View, bias: View | null = null): void {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = a.shape[ra - 2];
  const k = a.shape[ra - 1];
  const n = b.shape[rb - 1];
  const batchShape = out.shape.slice(0, -2);
  if (m === 0 || n === 0 || batchShape.some((d) => d === 0)) return;
  const temps: WasmStorage[] = [];
  /** `v` itself if its last axis is contiguous, else a contiguous copy. */
  const dense = (v: View): View => {
    const r = v.shape.length;
    if (v.shape[r - 1] <= 1 || v.strides[r - 1] === 1) return v;
    const size = v.shape.reduce((p, d) => p * d, 1);
    const t = be.alloc('float32', size);
    temps.push(t);
    const cv = be.contiguous(t, v.shape);
    be.elementwise.map(COPY, [v], cv);
    return cv;
  };
  const biasd = bias ? dense(bias) : null;
  const ptr = (v: View) => (v.storage as WasmStorage).ptr;
  const biasPtr = biasd ? ptr(biasd) + biasd.offset * 4 : 0;
  const [aP, bP, cP] = [ptr(a), ptr(b), ptr(out)];
  const sam = a.strides[ra - 2];
  const sak = a.strides[ra - 1];
  const sbk = b.strides[rb - 2];
  const sbn = b.strides[rb - 1];
  const rows = rowsOfOneMatrix(a, b, out, m);
  if (rows > 0) {
    be.sgemm(rows, n, k, aP + a.offset * 4, sam, sak, bP + b.offset * 4, sbk, sbn, cP + out.offset * 4, biasPtr);
  } else {
    const views = [
      { strides: a.strides.slice(0, -2), offset: a.offset },
      { strides: b.strides.slice(0, -2), offset: b.offset },
      { strides: out.strides.slice(0, -2), offset: out.offset },
    ];
    forEachIndex(batchShape, views, (_, o) => {
      const [oa, ob, oc] = o as [number, number, number];
      be.sgemm(m, n, k, aP + oa * 4, sam, sak, bP + ob * 4, sbk, sbn, cP + oc * 4, biasPtr);
    });
  }
  for (const t of temps) be.free(t);
}

/**
 * The rows of A as one [batch·m, k] matrix, where every batch shares one B and A's batch axes step
 * over its rows evenly: `x [T, B, I] @ W [I, 3H]` is one [T·B, I] @ [I, 3H] product, big enough to
 * split over the threads, not T small ones (out is contiguous, so its rows follow likewise). The
 * count of rows, or 0 where the batch must be walked (1 where there is no batch).
 */
function rowsOfOneMatrix(a: View, b: View, out: View, m: number): number {
  const ra = a.shape.length;
  const rb = b.shape.length;
  for (let i = 0; i < rb - 2; i++) if (b.shape[i] !== 1 && b.strides[i] !== 0) return 0;
  let rows = m;
  for (let i = ra - 3; i >= 0; i--) {
    const d = a.shape[i];
    if (d !== 1 && a.strides[i] !== rows * a.strides[ra - 2]) return 0;
    rows *= d;
  }
  // A batch that B alone makes (a [m, k] @ b [2, k, n] read twice) needs the walk.
  return rows === sizeOf(out.shape) / out.shape[out.shape.length - 1] ? rows : 0;
}
