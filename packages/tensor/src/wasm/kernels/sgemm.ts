/**
 * A simple, correct SIMD sgemm (the stand-in for the packed microkernel in wasm/matmul/, which has
 * the same signature): C[m, n] = A @ B (+ bias[n]), float32, C row-major contiguous. Register
 * blocked by 4 rows x 16 columns (16 f32x4 accumulators); B's columns and the bias must be
 * contiguous (the caller packs them otherwise). Every C element is summed over p in order from 0,
 * then the bias is added, as the other backends do.
 * @module
 */
import binaryen from 'binaryen';
import { f32, i32, instantiate, MEM, newModule, none, v128 } from '../module.js';

/** C[m,n] = A @ B (+ bias): pointers are byte offsets, strides in elements, biasPtr 0 = none. */
export type Sgemm = (
  m: number,
  n: number,
  k: number,
  aPtr: number,
  aRowStride: number,
  aColStride: number,
  bPtr: number,
  bRowStride: number,
  bColStride: number,
  cPtr: number,
  biasPtr: number,
) => void;

/** Vectors of four columns per tile: 4 rows x 2 vectors = 8 accumulators (16 spilled on SSE's 16 registers). */
const TILE_VECTORS = 2;

// parameter indices
const [M, N, K, AP, ARS, ACS, BP, BRS, , CP, BIAS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** Builds the module; `run` exports `sgemm` (B's column stride is ignored: it must be 1). */
function compileSgemm(): binaryen.Module {
  const m = newModule();
  const vars: number[] = [];
  const local = (t: number) => {
    vars.push(t);
    return 10 + vars.length;
  };
  const get = (l: number, t = i32) => m.local.get(l, t);
  const set = (l: number, v: number) => m.local.set(l, v);
  const add = (a: number, b: number) => m.i32.add(a, b);
  const mul = (a: number, b: number) => m.i32.mul(a, b);
  const c4 = (x: number) => m.i32.const(x);
  const i = local(i32);
  const j = local(i32);
  const p = local(i32);
  const aAddr = local(i32);
  const bAddr = local(i32);
  const aStep = local(i32);
  const bStep = local(i32);
  const acc = Array.from({ length: 16 }, () => local(v128));
  const accS = Array.from({ length: 4 }, () => local(f32));
  const aVal = Array.from({ length: 4 }, () => local(v128));
  let label = 0;

  /**
   * Columns j..j+4V-1 (V vectors; V = 0: one scalar column), rows from `i` in steps of R while
   * they fit, each tile summed over all of K.
   */
  const tile = (R: number, V: number): number => {
    const id = label++;
    const scalar = V === 0;
    const regs = (r: number, v: number) => (scalar ? (accS[r] as number) : (acc[r * 4 + v] as number));
    const nv = scalar ? 1 : V;
    const zero = () => (scalar ? m.f32.const(0) : m.f32x4.splat(m.f32.const(0)));
    const inner: number[] = [];
    for (let r = 0; r < R; r++) {
      const aAt = add(get(aAddr), mul(c4(r), mul(get(ARS), c4(4))));
      const t = scalar ? f32 : v128;
      inner.push(set(aVal[r] as number, m.v128.load32_splat(0, 4, aAt, MEM)));
      for (let v = 0; v < nv; v++) {
        const av = scalar ? m.f32x4.extract_lane(get(aVal[r] as number, v128), 0) : get(aVal[r] as number, v128);
        const bv = scalar ? m.f32.load(0, 4, get(bAddr), MEM) : m.v128.load(16 * v, 4, get(bAddr), MEM);
        const prod = scalar ? m.f32.mul(av, bv) : m.f32x4.mul(av, bv);
        inner.push(
          set(regs(r, v), scalar ? m.f32.add(get(regs(r, v), t), prod) : m.f32x4.add(get(regs(r, v), t), prod)),
        );
      }
    }
    const stores: number[] = [];
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < nv; v++) {
        const t = scalar ? f32 : v128;
        const col = () => add(get(j), c4(4 * v));
        const cAt = add(get(CP), m.i32.shl(add(mul(add(get(i), c4(r)), get(N)), col()), c4(2)));
        const biasAt = add(get(BIAS), m.i32.shl(col(), c4(2)));
        const biased = scalar
          ? m.f32.add(get(regs(r, v), t), m.f32.load(0, 4, biasAt, MEM))
          : m.f32x4.add(get(regs(r, v), t), m.v128.load(0, 4, biasAt, MEM));
        stores.push(m.if(get(BIAS), set(regs(r, v), biased)));
        stores.push(
          scalar ? m.f32.store(0, 4, cAt, get(regs(r, v), t), MEM) : m.v128.store(0, 4, cAt, get(regs(r, v), t), MEM),
        );
      }
    }
    const inits: number[] = [];
    for (let r = 0; r < R; r++) for (let v = 0; v < nv; v++) inits.push(set(regs(r, v), zero()));
    const kLoop = m.block(`k_done${id}`, [
      m.loop(
        `k${id}`,
        m.block(null, [
          m.br(`k_done${id}`, m.i32.ge_s(get(p), get(K))),
          ...inner,
          set(aAddr, add(get(aAddr), get(aStep))),
          set(bAddr, add(get(bAddr), get(bStep))),
          set(p, add(get(p), c4(1))),
          m.br(`k${id}`),
        ]),
      ),
    ]);
    const rowBody = m.block(null, [
      m.br(`i_done${id}`, m.i32.gt_s(add(get(i), c4(R)), get(M))),
      ...inits,
      set(p, c4(0)),
      set(aAddr, add(get(AP), m.i32.shl(mul(get(i), get(ARS)), c4(2)))),
      set(bAddr, add(get(BP), m.i32.shl(get(j), c4(2)))),
      kLoop,
      ...stores,
      set(i, add(get(i), c4(R))),
      m.br(`i${id}`),
    ]);
    return m.block(`i_done${id}`, [m.loop(`i${id}`, rowBody)]);
  };

  /**
   * Columns in blocks of `width` (4V; V = 0: one column) while they fit, each block down all rows,
   * four at a time then one: the block's strip of B stays in cache while A streams past it.
   */
  const colBlocks = (V: number): number => {
    const id = label++;
    const width = V === 0 ? 1 : 4 * V;
    return m.block(`j_done${id}`, [
      m.loop(
        `j${id}`,
        m.block(null, [
          m.br(`j_done${id}`, m.i32.gt_s(add(get(j), c4(width)), get(N))),
          set(i, c4(0)),
          tile(4, V),
          tile(1, V),
          set(j, add(get(j), c4(width))),
          m.br(`j${id}`),
        ]),
      ),
    ]);
  };

  const body = m.block(null, [
    set(aStep, m.i32.shl(get(ACS), c4(2))),
    set(bStep, m.i32.shl(get(BRS), c4(2))),
    set(j, c4(0)),
    colBlocks(TILE_VECTORS),
    colBlocks(1),
    colBlocks(0),
  ]);
  m.addFunction('sgemm', binaryen.createType(new Array(11).fill(i32)), none, vars, body);
  m.addFunctionExport('sgemm', 'sgemm');
  return m;
}

/**
 * The same factory as wasm/matmul's packed kernel (`createSgemm(memory, scratch)`), so that the
 * backend swaps one for the other in one line. This one needs no scratch.
 */
export function createSgemm(memory: WebAssembly.Memory, _scratch: (bytes: number) => number): Sgemm {
  return instantiate(compileSgemm(), memory, {}, true).exports.sgemm as Sgemm;
}
