/**
 * gather and scatterAdd on the wasm backend for contiguous operands (an embedding lookup and its
 * gradient), as WebAssembly kernels: whole rows of `inner` elements are copied (`memory.copy`) or
 * added (four lanes at a time in SIMD, then one by one) in place in the memory. Other layouts
 * return false and run on the host loops (../cpu), which are also the version these must agree
 * with (the backend property tests compare them).
 *
 * Indices follow `take`: a negative one counts from the end of the axis; one out of range
 * gathers a row of zeros and scatters nothing (the ops check indices before they get here).
 * @module
 */
import binaryen from 'binaryen';
import { type View, viewIsContiguous } from '../backend.js';
import type { WasmHeap, WasmStorage } from './heap.js';
import { i32, instantiate, MEM, newModule, none } from './module.js';

/**
 * `gather(x, indices, n, out, outer, dim, inner)` and `scatterAdd<F32|I32>(src, indices, n, out,
 * outer, dim, inner)`: addresses in bytes; for each of `outer` blocks, the `n` rows the indices
 * name, each `inner` elements, of an axis of length `dim`.
 */
type Kernel = (
  data: number,
  indices: number,
  n: number,
  out: number,
  outer: number,
  dim: number,
  inner: number,
) => void;

/** The module: one function per kernel, parameters as in {@link Kernel}. */
function compileIndexing(): binaryen.Module {
  const m = newModule();
  // memory.copy and memory.fill (binaryen counts them as a feature of their own)
  m.setFeatures(m.getFeatures() | binaryen.Features.BulkMemoryOpt);
  const [DATA, IDX, N, OUT, OUTER, DIM, INNER] = [0, 1, 2, 3, 4, 5, 6];
  const [A, K, J, ROW, E, SRC] = [7, 8, 9, 10, 11, 12];
  const get = (l: number) => m.local.get(l, i32);
  const set = (l: number, v: number) => m.local.set(l, v);
  const c = (x: number) => m.i32.const(x);
  const add = (...xs: number[]) => xs.reduce((x, y) => m.i32.add(x, y));
  const mul = (x: number, y: number) => m.i32.mul(x, y);
  const bytes = (elements: number) => m.i32.shl(elements, c(2));
  /** `for (v = 0; v < n; v++) body`, by name. */
  const loop = (name: string, v: number, n: number, body: number[]): number =>
    m.block(null, [
      set(v, c(0)),
      m.block(`${name}_done`, [
        m.loop(
          name,
          m.block(null, [
            m.br(`${name}_done`, m.i32.ge_s(get(v), n)),
            ...body,
            set(v, m.i32.add(get(v), c(1))),
            m.br(name),
          ]),
        ),
      ]),
    ]);
  // J = indices[K], wrapped into [0, dim) where negative; -1 where out of range.
  const index = [
    set(J, m.i32.load(0, 4, add(get(IDX), bytes(get(K))), MEM)),
    m.if(m.i32.lt_s(get(J), c(0)), set(J, add(get(J), get(DIM)))),
    m.if(m.i32.or(m.i32.lt_s(get(J), c(0)), m.i32.ge_s(get(J), get(DIM))), set(J, c(-1))),
  ];
  // ROW = the byte address of row J of block A in an operand at `base` with `dim` rows a block.
  const rowOf = (base: number) => add(base, bytes(mul(add(mul(get(A), get(DIM)), get(J)), get(INNER))));
  const rowBytes = () => bytes(get(INNER));
  const params = binaryen.createType([i32, i32, i32, i32, i32, i32, i32]);

  // gather: out's rows in order, each a copy of the row the index names (zeros out of range).
  const gatherRow = [
    ...index,
    m.if(
      m.i32.lt_s(get(J), c(0)),
      m.memory.fill(get(OUT), c(0), rowBytes(), MEM),
      m.memory.copy(get(OUT), rowOf(get(DATA)), rowBytes(), MEM, MEM),
    ),
    set(OUT, add(get(OUT), rowBytes())),
  ];
  m.addFunction(
    'gather',
    params,
    none,
    [i32, i32, i32, i32, i32, i32],
    loop('blocks', A, get(OUTER), [loop('rows', K, get(N), gatherRow)]),
  );
  m.addFunctionExport('gather', 'gather');

  // scatterAdd: each src row added into the out row the index names (nothing out of range).
  for (const [name, vadd, load, store, sadd] of [
    ['scatterAddF32', m.f32x4.add, m.f32.load, m.f32.store, m.f32.add],
    ['scatterAddI32', m.i32x4.add, m.i32.load, m.i32.store, m.i32.add],
  ] as const) {
    const at = (base: number) => add(base, bytes(get(E)));
    const lanes = m.block('lanes_done', [
      m.loop(
        'lanes',
        m.block(null, [
          m.br('lanes_done', m.i32.gt_s(add(get(E), c(4)), get(INNER))),
          m.v128.store(
            0,
            4,
            at(get(ROW)),
            vadd(m.v128.load(0, 4, at(get(ROW)), MEM), m.v128.load(0, 4, at(get(SRC)), MEM)),
            MEM,
          ),
          set(E, add(get(E), c(4))),
          m.br('lanes'),
        ]),
      ),
    ]);
    const rest = m.block('rest_done', [
      m.loop(
        'rest',
        m.block(null, [
          m.br('rest_done', m.i32.ge_s(get(E), get(INNER))),
          store(0, 4, at(get(ROW)), sadd(load(0, 4, at(get(ROW)), MEM), load(0, 4, at(get(SRC)), MEM)), MEM),
          set(E, add(get(E), c(1))),
          m.br('rest'),
        ]),
      ),
    ]);
    const scatterRow = [
      ...index,
      m.if(m.i32.ge_s(get(J), c(0)), m.block(null, [set(ROW, rowOf(get(OUT))), set(E, c(0)), lanes, rest])),
      set(SRC, add(get(SRC), rowBytes())),
    ];
    const body = m.block(null, [
      set(SRC, get(DATA)),
      loop('blocks', A, get(OUTER), [loop('rows', K, get(N), scatterRow)]),
    ]);
    m.addFunction(name, params, none, [i32, i32, i32, i32, i32, i32], body);
    m.addFunctionExport(name, name);
  }
  return m;
}

const size = (shape: readonly number[], from = 0, to = shape.length) => {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i] as number;
  return n;
};
const address = (v: View) => (v.storage as WasmStorage).ptr + v.offset * 4;

/** The backend's gather and scatterAdd kernels, compiled on first use. */
export class WasmIndexing {
  private kernels: Record<'gather' | 'scatterAddF32' | 'scatterAddI32', Kernel> | null = null;

  constructor(private readonly heap: WasmHeap) {}

  private get k() {
    if (this.kernels === null) {
      const e = instantiate(compileIndexing(), this.heap.memory).exports;
      this.kernels = {
        gather: e.gather as Kernel,
        scatterAddF32: e.scatterAddF32 as Kernel,
        scatterAddI32: e.scatterAddI32 as Kernel,
      };
    }
    return this.kernels;
  }

  /** out = take(x, indices, axis); false (nothing done) if an operand is not contiguous. */
  gather(x: View, indices: View, axis: number, out: View): boolean {
    if (!viewIsContiguous(x) || !viewIsContiguous(indices) || !viewIsContiguous(out)) return false;
    const [outer, dim, inner] = [size(x.shape, 0, axis), x.shape[axis] as number, size(x.shape, axis + 1)];
    this.k.gather(address(x), address(indices), size(indices.shape), address(out), outer, dim, inner);
    return true;
  }

  /** out += src scattered by `indices` along `axis`; false (nothing done) if an operand is not contiguous. */
  scatterAdd(src: View, indices: View, axis: number, out: View): boolean {
    if (!viewIsContiguous(src) || !viewIsContiguous(indices) || !viewIsContiguous(out)) return false;
    const [outer, dim, inner] = [size(out.shape, 0, axis), out.shape[axis] as number, size(out.shape, axis + 1)];
    const kernel = out.dtype === 'int32' ? this.k.scatterAddI32 : this.k.scatterAddF32;
    kernel(address(src), address(indices), size(indices.shape), address(out), outer, dim, inner);
    return true;
  }
}
