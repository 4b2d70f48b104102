/**
 * The CPU backend's elementwise evaluator: `out[i] = expr(inputs[0][i], inputs[1][i], ...)`.
 *
 * The expression is evaluated node by node over whole arrays ("lanes" of float64 values in the
 * row-major order of `out`), each node one tight loop, instead of a tree of closures called per
 * element. The arithmetic is exactly that of the per-element definition: float64 throughout, the
 * constants of float32 nodes rounded to float32, int32 nodes wrapped like i32 (multiplication
 * through Math.imul), each op the table's own CPU function. All inputs are read before `out` is
 * written, so an output that overlaps an input is still right.
 * @module
 */
import type { View } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';
import type { Expr } from '../expr.js';
import { type BinaryOp, binaryOps, type UnaryOp, unaryOps } from '../ops/table.js';
import type { CpuStorage } from './backend.js';

/** A run of values: `size` of them from `array[offset]` on (an input read in place, or scratch). */
interface Lane {
  array: TypedArray;
  offset: number;
}

type UnaryLoop = (a: TypedArray, ao: number, out: Float64Array, n: number) => void;
type BinaryLoop = (a: TypedArray, ao: number, b: TypedArray, bo: number, out: Float64Array, n: number) => void;

// One loop closure per op and kind: each keeps its own type feedback, so the op's function is
// inlined into its loop instead of being called through a shared, megamorphic call site.
const unaryLoops = new Map<string, UnaryLoop>();
const binaryLoops = new Map<string, BinaryLoop>();

function unaryLoop(op: UnaryOp, int: boolean): UnaryLoop {
  const key = `${op}:${int}`;
  let loop = unaryLoops.get(key);
  if (!loop) {
    const f = unaryOps[op].cpu;
    loop = int
      ? (a, ao, out, n) => {
          for (let i = 0; i < n; i++) out[i] = f(a[ao + i]) | 0;
        }
      : (a, ao, out, n) => {
          for (let i = 0; i < n; i++) out[i] = f(a[ao + i]);
        };
    unaryLoops.set(key, loop);
  }
  return loop;
}

function binaryLoop(op: BinaryOp, int: boolean): BinaryLoop {
  const key = `${op}:${int}`;
  let loop = binaryLoops.get(key);
  if (!loop) {
    const f = int && op === 'mul' ? Math.imul : binaryOps[op].cpu;
    loop = int
      ? (a, ao, b, bo, out, n) => {
          for (let i = 0; i < n; i++) out[i] = f(a[ao + i], b[bo + i]) | 0;
        }
      : (a, ao, b, bo, out, n) => {
          for (let i = 0; i < n; i++) out[i] = f(a[ao + i], b[bo + i]);
        };
    binaryLoops.set(key, loop);
  }
  return loop;
}

/**
 * A view's axes merged where they are contiguous with each other (and size-1 axes dropped), so
 * that a strided walk has as few, and as long, inner runs as possible. The row-major order of the
 * elements is unchanged.
 */
export function collapse(shape: readonly number[], strides: readonly number[]): { shape: number[]; strides: number[] } {
  const s: number[] = [];
  const st: number[] = [];
  for (let ax = 0; ax < shape.length; ax++) {
    const d = shape[ax];
    if (d === 1) continue;
    const stride = strides[ax];
    const last = s.length - 1;
    if (last >= 0 && st[last] === stride * d) {
      s[last] = s[last] * d;
      st[last] = stride;
    } else {
      s.push(d);
      st.push(stride);
    }
  }
  return { shape: s, strides: st };
}

/**
 * Calls `run(k, offset, n, stride)` for each innermost run of a strided walk over `shape`: `n`
 * elements starting at row-major position `k`, at `offset` in the view's storage, `stride` apart.
 */
function forEachRun(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  run: (k: number, offset: number, n: number, stride: number) => void,
): void {
  const c = collapse(shape, strides);
  const rank = c.shape.length;
  if (rank === 0) {
    run(0, offset, 1, 0);
    return;
  }
  const inner = c.shape[rank - 1];
  const innerStride = c.strides[rank - 1];
  let rows = 1;
  for (let ax = 0; ax < rank - 1; ax++) rows *= c.shape[ax];
  const idx = new Array<number>(rank).fill(0);
  let o = offset;
  for (let r = 0; r < rows; r++) {
    run(r * inner, o, inner, innerStride);
    // advance the odometer over the outer axes
    for (let ax = rank - 2; ax >= 0; ax--) {
      const i = idx[ax] + 1;
      if (i < c.shape[ax]) {
        idx[ax] = i;
        o += c.strides[ax];
        break;
      }
      idx[ax] = 0;
      o -= (i - 1) * c.strides[ax];
    }
  }
}

/**
 * A constant as the dtype of its node holds it: `add(x, 0.1)` on float32 adds fround(0.1), as
 * the GPU does and as NumPy does with a Python float beside a float32 array.
 */
function constantOf(value: number, dtype: DType): number {
  if (dtype === 'float32') return Math.fround(value);
  if (dtype === 'int32') return value | 0;
  return value;
}

/** float -> int32: truncates toward zero; NaN -> 0; saturates like WGSL's conversion. */
function toInt32(v: number): number {
  if (Number.isNaN(v)) return 0;
  return Math.trunc(Math.min(Math.max(v, -2147483648), 2147483520));
}

/** Scratch lanes up to this many elements are reused between calls; larger ones are not kept. */
const MAX_POOLED = 1 << 16;

/** Evaluates elementwise expressions on host arrays (one per backend: it owns scratch memory). */
export class CpuElementwise {
  private readonly pool: Float64Array[] = [];

  map(expr: Expr, inputs: readonly View[], out: View): void {
    let size = 1;
    for (const d of out.shape) size *= d;
    if (size === 0) return;
    let used = 0;
    const scratch = (): Float64Array => {
      if (size > MAX_POOLED) return new Float64Array(size);
      const i = used++;
      let buf = this.pool[i];
      if (!buf || buf.length < size) {
        buf = new Float64Array(Math.max(size, 1024));
        this.pool[i] = buf;
      }
      return buf;
    };
    const arr = (v: View) => (v.storage as CpuStorage).array;

    // Each input as a lane in out's row-major order: read in place where it already is one.
    const lanes: Lane[] = inputs.map((v) => {
      const src = arr(v);
      const c = collapse(v.shape, v.strides);
      if (c.shape.length === 0 && size === 1) return { array: src, offset: v.offset };
      if (c.shape.length === 1 && c.strides[0] === 1 && c.shape[0] === size) return { array: src, offset: v.offset };
      const dst = scratch();
      forEachRun(v.shape, v.strides, v.offset, (k, o, n, stride) => {
        if (stride === 0) dst.fill(src[o], k, k + n);
        else for (let i = 0; i < n; i++) dst[k + i] = src[o + i * stride];
      });
      return { array: dst, offset: 0 };
    });

    // The expression, node by node; a node used twice is computed once.
    const done = new Map<Expr, Lane>();
    const evaluate = (e: Expr): Lane => {
      const known = done.get(e);
      if (known) return known;
      let lane: Lane;
      switch (e.kind) {
        case 'input':
          lane = lanes[e.index] as Lane;
          break;
        case 'const': {
          const o = scratch();
          o.fill(constantOf(e.value, e.dtype), 0, size);
          lane = { array: o, offset: 0 };
          break;
        }
        case 'unary': {
          const a = evaluate(e.a);
          const o = scratch();
          unaryLoop(e.op, e.dtype === 'int32')(a.array, a.offset, o, size);
          lane = { array: o, offset: 0 };
          break;
        }
        case 'binary': {
          const a = evaluate(e.a);
          const b = evaluate(e.b);
          const o = scratch();
          binaryLoop(e.op, e.dtype === 'int32')(a.array, a.offset, b.array, b.offset, o, size);
          lane = { array: o, offset: 0 };
          break;
        }
        case 'where': {
          const c = evaluate(e.cond);
          const a = evaluate(e.a);
          const b = evaluate(e.b);
          const o = scratch();
          for (let i = 0; i < size; i++)
            o[i] = c.array[c.offset + i] !== 0 ? a.array[a.offset + i] : b.array[b.offset + i];
          lane = { array: o, offset: 0 };
          break;
        }
        case 'cast': {
          const a = evaluate(e.a);
          if (e.dtype === 'float64') {
            lane = a;
            break;
          }
          const o = scratch();
          if (e.dtype === 'int32') for (let i = 0; i < size; i++) o[i] = toInt32(a.array[a.offset + i]);
          else for (let i = 0; i < size; i++) o[i] = Math.fround(a.array[a.offset + i]);
          lane = { array: o, offset: 0 };
          break;
        }
      }
      done.set(e, lane);
      return lane;
    };
    let result = evaluate(expr);
    const dst = arr(out);
    // A result read in place from out's own storage (a copy between overlapping views) is copied
    // out first, so that the stores below cannot overwrite values not yet read.
    if (result.array === dst) {
      const tmp = scratch();
      for (let i = 0; i < size; i++) tmp[i] = result.array[result.offset + i];
      result = { array: tmp, offset: 0 };
    }
    const { array: r, offset: ro } = result;
    const isInt = out.dtype === 'int32';
    forEachRun(out.shape, out.strides, out.offset, (k, o, n, stride) => {
      if (isInt) {
        for (let i = 0; i < n; i++) {
          const v = r[ro + k + i];
          dst[o + i * stride] = Number.isNaN(v) ? 0 : v;
        }
      } else if (stride === 1) {
        for (let i = 0; i < n; i++) dst[o + i] = r[ro + k + i];
      } else {
        for (let i = 0; i < n; i++) dst[o + i * stride] = r[ro + k + i];
      }
    });
  }
}
