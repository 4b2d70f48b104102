/**
 * gather and scatterAdd on the wasm backend for contiguous operands (an embedding lookup and its
 * gradient): whole rows of `inner` elements are copied or added at a time, in place in the memory.
 * Other layouts return false and run on the host loops.
 * @module
 */
import { type View, viewIsContiguous } from '../backend.js';
import type { WasmHeap, WasmStorage } from './heap.js';

const size = (shape: readonly number[], from = 0, to = shape.length) => {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i];
  return n;
};
const start = (v: View) => (v.storage as WasmStorage).ptr / 4 + v.offset;
/** An index along an axis of length `dim`: negative ones count from the end; -1 if out of range. */
const wrap = (j: number, dim: number) => {
  const w = j < 0 ? j + dim : j;
  return w >= 0 && w < dim ? w : -1;
};

/** out = take(x, indices, axis); false if an operand is not contiguous. */
export function gatherRows(heap: WasmHeap, x: View, indices: View, axis: number, out: View): boolean {
  if (![x, indices, out].every(viewIsContiguous)) return false;
  const outer = size(x.shape, 0, axis);
  const dim = x.shape[axis];
  const inner = size(x.shape, axis + 1);
  const n = size(indices.shape);
  const I = heap.i32; // bit-exact copies for both dtypes
  const xs = start(x);
  const is = start(indices);
  let o = start(out);
  for (let a = 0; a < outer; a++) {
    for (let k = 0; k < n; k++) {
      const j = wrap(I[is + k], dim);
      if (j < 0) I.fill(0, o, o + inner);
      else I.copyWithin(o, xs + (a * dim + j) * inner, xs + (a * dim + j + 1) * inner);
      o += inner;
    }
  }
  return true;
}

/** out += src scattered by `indices` along `axis`; false if an operand is not contiguous. */
export function scatterAddRows(heap: WasmHeap, src: View, indices: View, axis: number, out: View): boolean {
  if (![src, indices, out].every(viewIsContiguous)) return false;
  const outer = size(out.shape, 0, axis);
  const dim = out.shape[axis];
  const inner = size(out.shape, axis + 1);
  const n = size(indices.shape);
  const A = out.dtype === 'int32' ? heap.i32 : heap.f32;
  const is = start(indices);
  const os = start(out);
  let s = start(src);
  for (let a = 0; a < outer; a++) {
    for (let k = 0; k < n; k++) {
      const j = wrap(heap.i32[is + k], dim);
      if (j >= 0) {
        const d = os + (a * dim + j) * inner;
        for (let e = 0; e < inner; e++) A[d + e] = A[d + e] + A[s + e];
      }
      s += inner;
    }
  }
  return true;
}
