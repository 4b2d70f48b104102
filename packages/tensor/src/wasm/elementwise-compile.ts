/**
 * Compiles an elementwise expression (expr.ts, the same IR the WGSL fusion generates from) into
 * a WebAssembly SIMD kernel, four lanes at a time. One module per expression structure and
 * per input layout: each input's inner stride is contiguous ('c', a v128 load), broadcast ('b', a
 * splat) or strided ('s', four lane loads); the output is contiguous or strided likewise.
 *
 * The kernel `run(args)` reads its parameters from memory at byte offset `args`, as i32 words:
 *   rows, cols, out (ptr, rowStride, colStride), each input (ptr, rowStride, colStride), then the
 *   constants (f32 or i32 bits, in `exprConsts` order); pointers and strides in bytes.
 * It walks rows x cols: whole groups of four columns, then one masked group for the rest.
 * `chunk(chunk, thread, args, rowStep, colStep)` walks one part of that, for the thread pool
 * (./threads): rows [chunk·rowStep, +rowStep) where rowStep is non-zero, columns [chunk·colStep,
 * +colStep) where colStep is (a multiple of 4); `run(args)` is `chunk(0, 0, args, 0, 0)`, all of it.
 * @module
 */
import binaryen from 'binaryen';
import type { Expr } from '../expr.js';
import { binaryOps, unaryOps } from '../ops/table.js';
import { emitFast, type FastContext, hasFast } from './fastmath.js';
import { addLibraryFunction, libraryOptions } from './library.js';
import { i32, MEM, newModule, none, v128 } from './module.js';
import type { LibFn, Operand, SimdOps } from './simd-ops.js';

/** How a kernel walks one operand's columns. */
export type Mode = 'c' | 'b' | 's';

const lanes = [0, 1, 2, 3] as const;

/** The constant nodes of `expr` in `exprConsts` order (depth first; a shared node once per use). */
export function constNodes(e: Expr, out: Expr[] = []): Expr[] {
  if (e.kind === 'const') out.push(e);
  else if (e.kind === 'unary' || e.kind === 'cast') constNodes(e.a, out);
  else if (e.kind === 'binary') {
    constNodes(e.a, out);
    constNodes(e.b, out);
  } else if (e.kind === 'where') {
    constNodes(e.cond, out);
    constNodes(e.a, out);
    constNodes(e.b, out);
  }
  return out;
}

/** The module for `expr` with the given input and output modes (not yet instantiated). */
export function compileElementwise(expr: Expr, inModes: readonly Mode[], outMode: 'c' | 's'): binaryen.Module {
  const m = newModule();
  const used = new Set<LibFn>();
  // chunk's parameters: chunk, thread, args, rowStep, colStep
  const [CHUNK, ARGS, ROW_STEP, COL_STEP, PARAMS] = [0, 2, 3, 4, 5];
  const vars: number[] = []; // local types after the parameters
  const local = (type: number): number => {
    vars.push(type);
    return PARAMS + vars.length - 1;
  };
  const get = (l: number, t = i32) => m.local.get(l, t);
  const word = (w: number) => m.i32.load(w * 4, 4, get(ARGS), MEM);
  const n = inModes.length;

  // parameters into locals
  const stmts: number[] = [];
  const fromArgs = (w: number) => {
    const l = local(i32);
    stmts.push(m.local.set(l, word(w)));
    return l;
  };
  const rows = fromArgs(0);
  const cols = fromArgs(1);
  const outBase = fromArgs(2);
  const outRs = fromArgs(3);
  const outCs = fromArgs(4);
  const ins = inModes.map((_, i) => ({ base: fromArgs(5 + 3 * i), rs: fromArgs(6 + 3 * i), cs: fromArgs(7 + 3 * i) }));
  // A chunk's part: its first row (or column), how many, and every pointer moved there.
  const bases = [{ base: outBase, rs: outRs, cs: outCs }, ...ins];
  for (const [step, count, stride] of [
    [ROW_STEP, rows, 'rs'],
    [COL_STEP, cols, 'cs'],
  ] as const) {
    const first = local(i32);
    stmts.push(
      m.if(
        get(step),
        m.block(null, [
          m.local.set(first, m.i32.mul(get(CHUNK), get(step))),
          m.local.set(count, m.i32.sub(get(count), get(first))),
          m.if(m.i32.gt_s(get(count), get(step)), m.local.set(count, get(step))),
          ...bases.map((b) => m.local.set(b.base, m.i32.add(get(b.base), m.i32.mul(get(first), get(b[stride]))))),
        ]),
      ),
    );
  }
  // constants, splatted once
  const consts = constNodes(expr);
  const constLocal = new Map<Expr, number>();
  consts.forEach((e, j) => {
    if (constLocal.has(e)) return;
    const l = local(v128);
    const w = m.i32.load((5 + 3 * n + j) * 4, 4, get(ARGS), MEM);
    stmts.push(m.local.set(l, m.i32x4.splat(w)));
    constLocal.set(e, l);
  });

  // constants of the inline library functions, splatted once before the loops
  const splats = new Map<string, number>();
  const fast: FastContext = {
    m,
    k: (value, type = 'f32') => {
      const key = `${type}${value}`;
      let l = splats.get(key);
      if (l === undefined) {
        l = local(v128);
        const v = type === 'f32' ? m.f32x4.splat(m.f32.const(value)) : m.i32x4.splat(m.i32.const(value));
        stmts.push(m.local.set(l, v));
        splats.set(key, l);
      }
      return get(l, v128);
    },
    local: () => local(v128),
  };

  const r = local(i32);
  const c = local(i32);
  const at = (base: number, index: number, stride: number) => m.i32.add(get(base), m.i32.mul(index, get(stride)));
  const cPlus = (l: number) => m.i32.add(get(c), m.i32.const(l));

  // One group of four lanes: `tail` clamps lane columns to cols - 1 (loads) and masks the stores.
  const group = (tail: boolean): number[] => {
    const body: number[] = [];
    const col = (l: number) =>
      tail ? m.select(m.i32.lt_s(cPlus(l), get(cols)), cPlus(l), m.i32.sub(get(cols), m.i32.const(1))) : cPlus(l);
    const load = (i: number): number => {
      const { base, cs } = ins[i] as { base: number; cs: number };
      const mode = inModes[i] as Mode;
      if (mode === 'b') return m.v128.load32_splat(0, 4, get(base), MEM);
      if (mode === 'c' && !tail) return m.v128.load(0, 4, m.i32.add(get(base), m.i32.shl(get(c), m.i32.const(2))), MEM);
      let v = m.i32x4.splat(m.i32.load(0, 4, at(base, col(0), cs), MEM));
      for (const l of lanes.slice(1)) v = m.i32x4.replace_lane(v, l, m.i32.load(0, 4, at(base, col(l), cs), MEM));
      return v;
    };
    const inputLocals = new Map<number, number>();
    const done = new Map<Expr, number>();
    const w: SimdOps = {
      f: (op, ...args) =>
        (m.f32x4 as unknown as Record<string, (...a: number[]) => number>)[op]!(...args.map((a) => a())),
      i: (op, ...args) =>
        (m.i32x4 as unknown as Record<string, (...a: number[]) => number>)[op]!(...args.map((a) => a())),
      mask: (x) => m.v128.and(x, m.f32x4.splat(m.f32.const(1))),
      splat: (t, value) => (t === 'f32' ? m.f32x4.splat(m.f32.const(value)) : m.i32x4.splat(m.i32.const(value))),
      select: (mask, a, b) => m.v128.bitselect(a(), b(), mask()),
      lib: (fn, ...args) => {
        if (libraryOptions.fast && hasFast(fn)) return emitFast(fast, fn, args[0] as Operand);
        used.add(fn);
        return m.call(
          fn,
          args.map((a) => a()),
          v128,
        );
      },
    };
    const lane = (t: Expr['dtype']) => (t === 'int32' ? 'i32' : 'f32');
    const value = (e: Expr): Operand => {
      if (e.kind === 'const') {
        const l = constLocal.get(e) as number;
        return () => get(l, v128);
      }
      let l = e.kind === 'input' ? inputLocals.get(e.index) : done.get(e);
      if (l === undefined) {
        l = local(v128);
        body.push(m.local.set(l, emit(e)));
        if (e.kind === 'input') inputLocals.set(e.index, l);
        else done.set(e, l);
      }
      const fixed = l;
      return () => get(fixed, v128);
    };
    const emit = (e: Expr): number => {
      switch (e.kind) {
        case 'input':
          return load(e.index);
        case 'const':
          return value(e)();
        case 'unary':
          return unaryOps[e.op].wasm(w, value(e.a), lane(e.a.dtype));
        case 'binary':
          return binaryOps[e.op].wasm(w, value(e.a), value(e.b), lane(e.a.dtype));
        case 'where': {
          const cond = value(e.cond);
          const zero = () => w.splat(lane(e.cond.dtype), 0);
          // true where nonzero, NaN included (f32x4.ne is true on NaN)
          const mask = () => (e.cond.dtype === 'int32' ? w.i('ne', cond, zero) : w.f('ne', cond, zero));
          return w.select(mask, value(e.a), value(e.b));
        }
        case 'cast': {
          const x = value(e.a);
          if (e.a.dtype === e.dtype) return x();
          if (e.dtype === 'float32') return m.f32x4.convert_i32x4_s(x());
          if (e.dtype === 'int32')
            // toward zero, NaN -> 0, saturating at the largest float32 below 2^31 (as WGSL)
            return m.i32x4.trunc_sat_f32x4_s(m.f32x4.min(x(), m.f32x4.splat(m.f32.const(2147483520))));
          throw new Error(`wasm backend: no float64 (cast to ${e.dtype})`);
        }
      }
    };
    const result = value(expr);
    const outAt = (l: number) => at(outBase, cPlus(l), outCs);
    if (!tail && outMode === 'c') {
      body.push(m.v128.store(0, 4, m.i32.add(get(outBase), m.i32.shl(get(c), m.i32.const(2))), result(), MEM));
    } else {
      for (const l of lanes) {
        const store = m.i32.store(0, 4, outAt(l), m.i32x4.extract_lane(result(), l), MEM);
        body.push(tail ? m.if(m.i32.lt_s(cPlus(l), get(cols)), store) : store);
      }
    }
    return body;
  };

  const vector = group(false);
  const rest = group(true);
  const advance = (base: number, stride: number) => m.local.set(base, m.i32.add(get(base), get(stride)));
  const rowBody = m.block(null, [
    m.local.set(c, m.i32.const(0)),
    m.block('cols_done', [
      m.loop(
        'cols',
        m.block(null, [
          m.br('cols_done', m.i32.gt_s(cPlus(4), get(cols))),
          ...vector,
          m.local.set(c, cPlus(4)),
          m.br('cols'),
        ]),
      ),
    ]),
    m.if(m.i32.lt_s(get(c), get(cols)), m.block(null, rest)),
    advance(outBase, outRs),
    ...ins.map((x) => advance(x.base, x.rs)),
    m.local.set(r, m.i32.add(get(r), m.i32.const(1))),
  ]);
  stmts.push(
    m.local.set(r, m.i32.const(0)),
    m.block('rows_done', [
      m.loop('rows', m.block(null, [m.br('rows_done', m.i32.ge_s(get(r), get(rows))), rowBody, m.br('rows')])),
    ]),
  );
  for (const fn of used) addLibraryFunction(m, fn);
  m.addFunction('chunk', binaryen.createType([i32, i32, i32, i32, i32]), none, vars, m.block(null, stmts));
  m.addFunctionExport('chunk', 'chunk');
  const all = m.call(
    'chunk',
    [m.i32.const(0), m.i32.const(0), m.local.get(0, i32), m.i32.const(0), m.i32.const(0)],
    none,
  );
  m.addFunction('run', i32, none, [], all);
  m.addFunctionExport('run', 'run');
  return m;
}
