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
 * The first K block starts C from the bias (or zero), later ones add to it. With `direct` set (B
 * row-major, few rows of A: packing B would cost more than the product), full B panels are read in
 * place and only a short last panel is packed.
 *
 * Exported `sgemm(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, bias, bpack, apack, tile, direct)`:
 * addresses in bytes, strides in elements; `bpack` (16-byte aligned), `apack` and `tile` are
 * scratch for a packed B block (min(k, KC) x n rounded up to NR, at most NC), a packed A block
 * (min(k, KC) x m rounded up to MR, at most MC) and one MR x NR tile.
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

export function emitSgemm(m: binaryen.Module): void {
  const params = ['m', 'n', 'k', 'a', 'ars', 'acs', 'b', 'brs', 'bcs', 'c', 'ldc', 'bias', 'bpack', 'apack', 'tile'];
  const f = new FnBuilder(m, [...params, 'direct']);
  for (const name of ['jc', 'pc', 'ic', 'nc', 'kc', 'mc', 'bblock', 'skip']) f.local(name);
  const g = (name: string) => f.get(name);
  const mul = (x: Expr, y: Expr) => m.i32.mul(x, y);
  const add = (...xs: Expr[]) => xs.reduce((x, y) => m.i32.add(x, y));
  // Columns of this B block read in place (whole NR panels) when direct, else none.
  const skipped = m.if(g('direct'), m.i32.and(g('nc'), f.c(-NR)), f.c(0));
  const packB = m.call(
    'packB',
    [
      add(g('bblock'), mul(g('skip'), g('bcs'))),
      g('brs'),
      g('bcs'),
      g('kc'),
      m.i32.sub(g('nc'), g('skip')),
      add(g('bpack'), mul(mul(g('skip'), g('kc')), f.c(4))),
    ],
    0,
  );
  const packA = m.call(
    'packA',
    [add(g('a'), mul(g('ic'), g('ars')), mul(g('pc'), g('acs'))), g('ars'), g('acs'), g('mc'), g('kc'), g('apack')],
    0,
  );
  const macro = m.call(
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
      g('bblock'),
      m.if(g('direct'), g('brs'), f.c(0)),
    ],
    0,
  );
  const body = [
    ...['ars', 'acs', 'brs', 'bcs', 'ldc'].map((s) => f.set(s, m.i32.shl(g(s), f.c(2)))),
    f.for('jc', f.c(0), () => g('n'), NC, [
      f.set('nc', f.upTo(NC, 'n', 'jc')),
      f.for('pc', f.c(0), () => g('k'), KC, [
        f.set('kc', f.upTo(KC, 'k', 'pc')),
        f.set('bblock', add(g('b'), mul(g('pc'), g('brs')), mul(g('jc'), g('bcs')))),
        f.set('skip', skipped),
        m.if(m.i32.lt_s(g('skip'), g('nc')), packB),
        f.for('ic', f.c(0), () => g('m'), MC, [f.set('mc', f.upTo(MC, 'm', 'ic')), packA, macro]),
      ]),
    ]),
  ];
  f.finish('sgemm', body);
}

/**
 * Exported `sgemmChunk(chunk, thread, byColumns, step, span, scratchBytes, apackAt, tileAt, m, n, k,
 * a, ars, acs, b, brs, bcs, c, ldc, bias, scratch, direct)`: the part of `sgemm` (same arguments
 * from `m` on, `ldc` = C's row stride) that is C's columns (or rows) [chunk·step, chunk·step + step)
 * of `span`, for the thread pool; each thread packs into its own scratch, `scratch + thread ·
 * scratchBytes`, with the packed A block at `apackAt` and the edge tile at `tileAt` within it.
 */
export function emitSgemmChunk(m: binaryen.Module): void {
  const head = ['chunk', 'thread', 'byColumns', 'step', 'span', 'scratchBytes', 'apackAt', 'tileAt'];
  const args = ['m', 'n', 'k', 'a', 'ars', 'acs', 'b', 'brs', 'bcs', 'c', 'ldc', 'bias', 'scratch', 'direct'];
  const f = new FnBuilder(m, [...head, ...args]);
  for (const name of ['start', 'len', 's']) f.local(name);
  const g = (name: string) => f.get(name);
  const bytes = (elements: Expr, stride: Expr) => m.i32.shl(m.i32.mul(elements, stride), f.c(2));
  const call = (columns: boolean) =>
    m.call(
      'sgemm',
      [
        columns ? g('m') : g('len'),
        columns ? g('len') : g('n'),
        g('k'),
        columns ? g('a') : m.i32.add(g('a'), bytes(g('start'), g('ars'))),
        g('ars'),
        g('acs'),
        columns ? m.i32.add(g('b'), bytes(g('start'), g('bcs'))) : g('b'),
        g('brs'),
        g('bcs'),
        m.i32.add(g('c'), columns ? m.i32.shl(g('start'), f.c(2)) : bytes(g('start'), g('ldc'))),
        g('ldc'),
        columns ? m.if(g('bias'), m.i32.add(g('bias'), m.i32.shl(g('start'), f.c(2))), f.c(0)) : g('bias'),
        g('s'),
        m.i32.add(g('s'), g('apackAt')),
        m.i32.add(g('s'), g('tileAt')),
        g('direct'),
      ],
      0,
    );
  f.finish('sgemmChunk', [
    f.set('start', m.i32.mul(g('chunk'), g('step'))),
    f.set('len', m.i32.sub(g('span'), g('start'))),
    f.set(
      'len',
      f.min(
        () => g('step'),
        () => g('len'),
      ),
    ),
    f.set('s', m.i32.add(g('scratch'), m.i32.mul(g('thread'), g('scratchBytes')))),
    m.if(m.i32.gt_s(g('len'), f.c(0)), m.if(g('byColumns'), call(true), call(false))),
  ]);
}
