/**
 * Reductions on the wasm backend (sum, prod, max, min; float32 and int32) in SIMD, for the
 * layouts training produces: after merging, ONE kept axis and ONE reduced axis, either the kept
 * axis contiguous (a column sum such as a bias gradient: four outputs at a time, each a vector of
 * running sums) or the reduced axis contiguous (a row sum such as softmax's: four partial sums per
 * row, combined at the end). Anything else, and argmax/argmin, returns false and runs on the host.
 * Sums run in float32 in a different order than the float64 oracle's; max/min propagate NaN.
 * @module
 */
import binaryen from 'binaryen';
import type { ReduceOp, View } from '../backend.js';
import { collapse } from '../cpu/elementwise.js';
import type { WasmHeap, WasmStorage } from './heap.js';
import { i32, instantiate, MEM, newModule, none, v128 } from './module.js';

type Op = 'sum' | 'prod' | 'max' | 'min';
type Kernel = (x: number, out: number, nOut: number, nRed: number, keptStride: number, redStride: number) => void;

const INIT: Record<Op, number> = { sum: 0, prod: 1, max: Number.NEGATIVE_INFINITY, min: Number.POSITIVE_INFINITY };
const INIT_INT: Record<Op, number> = { sum: 0, prod: 1, max: -2147483648, min: 2147483647 };

/** The kernel: `keptContiguous` picks the layout; strides in bytes. */
function compileReduce(op: Op, int: boolean, keptContiguous: boolean): binaryen.Module {
  const m = newModule();
  const vars: number[] = [];
  const local = (t: number) => {
    vars.push(t);
    return 5 + vars.length;
  };
  const [X, OUT, NOUT, NRED, KS, RS] = [0, 1, 2, 3, 4, 5];
  const get = (l: number, t = i32) => m.local.get(l, t);
  const set = (l: number, v: number) => m.local.set(l, v);
  const c = (x: number) => m.i32.const(x);
  const i = local(i32);
  const r = local(i32);
  const at = local(i32);
  const acc = local(v128);
  const vop = (a: number, b: number): number => {
    const names = { sum: 'add', prod: 'mul', max: int ? 'max_s' : 'max', min: int ? 'min_s' : 'min' } as const;
    const ns = (int ? m.i32x4 : m.f32x4) as unknown as Record<string, (a: number, b: number) => number>;
    return (ns[names[op]] as (a: number, b: number) => number)(a, b);
  };
  const init = () => (int ? m.i32x4.splat(m.i32.const(INIT_INT[op])) : m.f32x4.splat(m.f32.const(INIT[op])));
  const lane0 = (ptr: number) => m.v128.load32_zero(0, 4, ptr, MEM);
  // a loop `for (v = 0; v + step <= n; v += step) body`, by name
  const loop = (name: string, v: number, n: () => number, step: number, body: number[]): number =>
    m.block(`${name}_done`, [
      m.loop(
        name,
        m.block(null, [
          m.br(`${name}_done`, m.i32.gt_s(m.i32.add(get(v), c(step)), n())),
          ...body,
          set(v, m.i32.add(get(v), c(step))),
          m.br(name),
        ]),
      ),
    ]);
  const store1 = (ptr: number, v: number) => m.i32.store(0, 4, ptr, m.i32x4.extract_lane(v, 0), MEM);
  let body: number;
  if (keptContiguous) {
    // outputs i..i+3 (then one at a time): acc = op over r of x[i + r * RS]
    const group = (width: 4 | 1) => {
      const load = (p: number) => (width === 4 ? m.v128.load(0, 4, p, MEM) : lane0(p));
      return [
        set(acc, init()),
        set(at, m.i32.add(get(X), m.i32.shl(get(i), c(2)))),
        set(r, c(0)),
        loop(`r${width}`, r, () => get(NRED), 1, [
          set(acc, vop(get(acc, v128), load(get(at)))),
          set(at, m.i32.add(get(at), get(RS))),
        ]),
        width === 4
          ? m.v128.store(0, 4, m.i32.add(get(OUT), m.i32.shl(get(i), c(2))), get(acc, v128), MEM)
          : store1(m.i32.add(get(OUT), m.i32.shl(get(i), c(2))), get(acc, v128)),
      ];
    };
    body = m.block(null, [
      set(i, c(0)),
      loop('i4', i, () => get(NOUT), 4, group(4)),
      loop('i1', i, () => get(NOUT), 1, group(1)),
    ]);
  } else {
    // output i: four partial results over r in steps of 4, combined, then the rest one by one
    const lanes = (l: number) => m.i32x4.splat(m.i32x4.extract_lane(get(acc, v128), l));
    const combine = vop(vop(get(acc, v128), lanes(1)), vop(lanes(2), lanes(3)));
    const row = m.i32.add(get(X), m.i32.mul(get(i), get(KS)));
    body = m.block(null, [
      set(i, c(0)),
      loop('i', i, () => get(NOUT), 1, [
        set(acc, init()),
        set(at, row),
        set(r, c(0)),
        loop('r4', r, () => get(NRED), 4, [
          set(acc, vop(get(acc, v128), m.v128.load(0, 4, get(at), MEM))),
          set(at, m.i32.add(get(at), c(16))),
        ]),
        set(acc, combine),
        loop('r1', r, () => get(NRED), 1, [
          set(acc, vop(get(acc, v128), lane0(get(at)))),
          set(at, m.i32.add(get(at), c(4))),
        ]),
        store1(m.i32.add(get(OUT), m.i32.shl(get(i), c(2))), get(acc, v128)),
      ]),
    ]);
  }
  m.addFunction('run', binaryen.createType([i32, i32, i32, i32, i32, i32]), none, vars, body);
  m.addFunctionExport('run', 'run');
  return m;
}

/** Runs reductions whose layout the kernels cover; caches a kernel per op, dtype and layout. */
export class WasmReduce {
  private readonly kernels = new Map<string, Kernel>();

  constructor(private readonly heap: WasmHeap) {}

  /** out = op(x) over `axes`; false (nothing done) where the layout is not one of the two above. */
  run(op: ReduceOp, x: View, axes: readonly number[], out: View): boolean {
    if (op === 'argmax' || op === 'argmin') return false;
    // the kept and the reduced axes, each merged where contiguous (as a strided walk merges them)
    const merge = (list: number[]) =>
      collapse(
        list.map((a) => x.shape[a]),
        list.map((a) => x.strides[a]),
      );
    const kept = merge(x.shape.map((_, i) => i).filter((i) => !axes.includes(i)));
    const red = merge([...axes]);
    if (kept.shape.length > 1 || red.shape.length > 1) return false;
    const nOut = kept.shape[0] ?? 1;
    const nRed = red.shape[0] ?? 1;
    const ks = kept.strides[0] ?? 0;
    const rs = red.strides[0] ?? 0;
    let keptContiguous: boolean;
    if (nOut > 1 && ks === 1) keptContiguous = true;
    else if (rs === 1 || nRed === 1) keptContiguous = false;
    else if (nOut === 1)
      keptContiguous = true; // one output: a strided walk
    else return false;
    const int = x.dtype === 'int32';
    const key = `${op}:${int}:${keptContiguous}`;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = instantiate(compileReduce(op as Op, int, keptContiguous), this.heap.memory).exports.run as Kernel;
      this.kernels.set(key, kernel);
    }
    const xPtr = (x.storage as WasmStorage).ptr + x.offset * 4;
    const outPtr = (out.storage as WasmStorage).ptr + out.offset * 4;
    kernel(xPtr, outPtr, nOut, nRed, ks * 4, rs * 4);
    return true;
  }
}
