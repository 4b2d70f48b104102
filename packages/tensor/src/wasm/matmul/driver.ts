/**
 * The loops around the micro-kernel (BLIS's five loops, the outer three for cache blocking):
 *
 *     for jc over N in NC columns:           B block [KC, NC] packed once, kept in L2
 *       for pc over K in KC steps:
 *         packB; for ic over M in MC rows:   A block [MC, KC] packed, kept in L2
 *           packA; for jr over NC in NR:     one B panel [KC, NR] stays in L1 ...
 *             for ir over MC in MR:          ... while the A panels stream past it
 *               kernel<rows>                  C tile (+)= A panel @ B panel
 *
 * The first K block starts C from the bias (or zero), later ones add to it. Tiles short of NR columns
 * (the right edge of C) go through a small `tile` buffer so that the kernel always stores NR columns.
 *
 * Exported `sgemm(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, bias, bpack, apack, tile)`: addresses
 * in bytes, strides in elements; `bpack` (16-byte aligned), `apack` and `tile` are scratch for a
 * packed B block (min(k, KC) x n rounded up to NR, at most NC), a packed A block (min(k, KC) x m
 * rounded up to MR, at most MC) and one MR x NR tile.
 */
import type binaryen from 'binaryen';
import { type Expr, FnBuilder } from './emit.js';
import { MR, NR } from './microkernel.js';

// Block sizes, measured at 1024^3 on one core (GFLOP/s per CPU-second): KC 128/256/512/1024 gave
// 30.5/34/37.6/36.5; MC 16..192 rows moved it by 1-3; NC 512 vs 1024 by 0.5.
/** K steps in a packed block: one B panel (KC x NR floats, 16 KiB) sits in L1 with its A panel. */
export const KC = 512;
/** Rows of a packed A block (MC x KC floats, 96 KiB). */
export const MC = MR * 12;
/** Columns of a packed B block (KC x NC floats, 2 MiB: this core's L2). */
export const NC = 1024;

/** Calls `kernel<rows>` for a run-time `rows` in 1..MR. */
function dispatch(f: FnBuilder, rows: () => Expr, args: () => Expr[]): Expr {
  const m = f.m;
  let chain: Expr = m.nop();
  for (let r = 1; r <= MR; r++) chain = m.if(m.i32.eq(rows(), f.c(r)), m.call(`kernel${r}`, args(), 0), chain);
  return chain;
}

export function emitTileCopies(m: binaryen.Module): void {
  // tileIn(c, ldc, rows, cols, bias, accumulate, tile): tile[r, j] = C[r, j], bias[j] or 0 (0 past cols).
  const fi = new FnBuilder(m, ['c', 'ldc', 'rows', 'cols', 'bias', 'accumulate', 'tile']);
  for (const name of ['r', 'j']) fi.local(name);
  const at = (f: FnBuilder, base: Expr, pitch: Expr) =>
    m.i32.add(m.i32.add(base, m.i32.mul(f.get('r'), pitch)), m.i32.shl(f.get('j'), f.c(2)));
  const source = m.if(
    m.i32.ge_s(fi.get('j'), fi.get('cols')),
    m.f32.const(0),
    m.if(
      fi.get('accumulate'),
      m.f32.load(0, 4, at(fi, fi.get('c'), fi.get('ldc'))),
      m.if(
        fi.get('bias'),
        m.f32.load(0, 4, m.i32.add(fi.get('bias'), m.i32.shl(fi.get('j'), fi.c(2)))),
        m.f32.const(0),
      ),
    ),
  );
  fi.finish(
    'tileIn',
    [
      fi.for('r', fi.c(0), () => fi.get('rows'), 1, [
        fi.for('j', fi.c(0), () => fi.c(NR), 1, [m.f32.store(0, 4, at(fi, fi.get('tile'), fi.c(NR * 4)), source)]),
      ]),
    ],
    false,
  );
  // tileOut(c, ldc, rows, cols, tile): C[r, j] = tile[r, j] for j < cols.
  const fo = new FnBuilder(m, ['c', 'ldc', 'rows', 'cols', 'tile']);
  for (const name of ['r', 'j']) fo.local(name);
  fo.finish(
    'tileOut',
    [
      fo.for('r', fo.c(0), () => fo.get('rows'), 1, [
        fo.for('j', fo.c(0), () => fo.get('cols'), 1, [
          m.f32.store(0, 4, at(fo, fo.get('c'), fo.get('ldc')), m.f32.load(0, 4, at(fo, fo.get('tile'), fo.c(NR * 4)))),
        ]),
      ]),
    ],
    false,
  );
}

export function emitMacroKernel(m: binaryen.Module): void {
  const f = new FnBuilder(m, ['ap', 'bp', 'mc', 'nc', 'kc', 'c', 'ldc', 'bias', 'accumulate', 'tile']);
  for (const name of ['jr', 'ir', 'rows', 'cols', 'cp', 'bb', 'bpan', 'apan']) f.local(name);
  const g = (name: string) => f.get(name);
  const full = () => [g('apan'), g('bpan'), g('kc'), g('cp'), g('ldc'), g('bb'), g('accumulate')];
  const edge = () => [g('apan'), g('bpan'), g('kc'), g('tile'), f.c(NR * 4), f.c(0), f.c(1)];
  const body = f.for('jr', f.c(0), () => g('nc'), NR, [
    f.set('cols', f.upTo(NR, 'nc', 'jr')),
    f.set('bpan', m.i32.add(g('bp'), m.i32.mul(m.i32.mul(g('jr'), g('kc')), f.c(4)))),
    f.set('bb', m.if(g('bias'), m.i32.add(g('bias'), m.i32.shl(g('jr'), f.c(2))), f.c(0))),
    f.for('ir', f.c(0), () => g('mc'), MR, [
      f.set('rows', f.upTo(MR, 'mc', 'ir')),
      f.set('apan', m.i32.add(g('ap'), m.i32.mul(m.i32.mul(g('ir'), g('kc')), f.c(4)))),
      f.set('cp', m.i32.add(m.i32.add(g('c'), m.i32.mul(g('ir'), g('ldc'))), m.i32.shl(g('jr'), f.c(2)))),
      m.if(
        m.i32.eq(g('cols'), f.c(NR)),
        dispatch(f, () => g('rows'), full),
        m.block(null, [
          m.call('tileIn', [g('cp'), g('ldc'), g('rows'), g('cols'), g('bb'), g('accumulate'), g('tile')], 0),
          dispatch(f, () => g('rows'), edge),
          m.call('tileOut', [g('cp'), g('ldc'), g('rows'), g('cols'), g('tile')], 0),
        ]),
      ),
    ]),
  ]);
  f.finish('macro', [body], false);
}

export function emitSgemm(m: binaryen.Module): void {
  const params = ['m', 'n', 'k', 'a', 'ars', 'acs', 'b', 'brs', 'bcs', 'c', 'ldc', 'bias', 'bpack', 'apack', 'tile'];
  const f = new FnBuilder(m, params);
  for (const name of ['jc', 'pc', 'ic', 'nc', 'kc', 'mc']) f.local(name);
  const g = (name: string) => f.get(name);
  const mul = (x: Expr, y: Expr) => m.i32.mul(x, y);
  const add = (...xs: Expr[]) => xs.reduce((x, y) => m.i32.add(x, y));
  const body = [
    ...['ars', 'acs', 'brs', 'bcs', 'ldc'].map((s) => f.set(s, m.i32.shl(g(s), f.c(2)))),
    f.for('jc', f.c(0), () => g('n'), NC, [
      f.set('nc', f.upTo(NC, 'n', 'jc')),
      f.for('pc', f.c(0), () => g('k'), KC, [
        f.set('kc', f.upTo(KC, 'k', 'pc')),
        m.call(
          'packB',
          [
            add(g('b'), mul(g('pc'), g('brs')), mul(g('jc'), g('bcs'))),
            g('brs'),
            g('bcs'),
            g('kc'),
            g('nc'),
            g('bpack'),
          ],
          0,
        ),
        f.for('ic', f.c(0), () => g('m'), MC, [
          f.set('mc', f.upTo(MC, 'm', 'ic')),
          m.call(
            'packA',
            [
              add(g('a'), mul(g('ic'), g('ars')), mul(g('pc'), g('acs'))),
              g('ars'),
              g('acs'),
              g('mc'),
              g('kc'),
              g('apack'),
            ],
            0,
          ),
          m.call(
            'macro',
            [
              g('apack'),
              g('bpack'),
              g('mc'),
              g('nc'),
              g('kc'),
              add(g('c'), mul(g('ic'), g('ldc')), m.i32.shl(g('jc'), f.c(2))),
              g('ldc'),
              m.if(g('bias'), add(g('bias'), m.i32.shl(g('jc'), f.c(2))), f.c(0)),
              m.i32.ne(g('pc'), f.c(0)),
              g('tile'),
            ],
            0,
          ),
        ]),
      ]),
    ]),
  ];
  f.finish('sgemm', body);
}
