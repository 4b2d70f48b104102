/**
 * Rows of C one at a time, for products with very few rows (generating a token multiplies one row
 * by U and by the output layer). The micro-kernel's one-row tile holds NR / 4 = 2 accumulators, so
 * each K step waits for the previous step's add (latency-bound: ~11 GFLOP/s here, 1x256 @ 256x768).
 * This kernel walks 32 columns at once instead: 8 independent accumulators per K step, reading B's
 * rows in place (nothing packed); what is left of the row goes 8, then 4 columns at a time, then
 * one. `sgemm` routes here when A has at most `GEMV_MAX_ROWS` rows and B's columns are contiguous;
 * it computes the same sums in the same order (p = 0, 1, ..., k - 1) as the blocked path.
 *
 * Generated function `gemv(m, n, k, a, ars, acs, b, brs, c, ldc, bias)`: byte addresses, strides in
 * elements; `C[i, j] = bias[j] (or 0) + Σ_p A[i, p] B[p, j]`.
 */
import binaryen from 'binaryen';
import { type Expr, FnBuilder, relaxedMadd, v128 } from './emit.js';

/** At most this many rows of A go through `gemv` (measured crossover: see index.ts). */
export const GEMV_MAX_ROWS = 2;

/** Vectors (of 4 columns) per pass, widest first. */
const WIDTHS = [8, 2, 1] as const;

export function emitGemv(m: binaryen.Module, fma: boolean): void {
  const f = new FnBuilder(m, ['m', 'n', 'k', 'a', 'ars', 'acs', 'b', 'brs', 'c', 'ldc', 'bias']);
  for (const name of ['i', 'j', 'p', 'ap', 'bp', 'arow', 'crow']) f.local(name);
  const acc = Array.from({ length: WIDTHS[0] }, (_, v) => f.local(`acc${v}`, v128));
  f.local('av', v128);
  f.local('s', binaryen.f32);
  const g = (name: string) => f.get(name);
  const madd = (x: Expr, y: Expr, z: Expr): Expr => (fma ? relaxedMadd(m, x, y, z) : m.f32x4.add(m.f32x4.mul(x, y), z));
  const zero = m.v128.const(new Array(16).fill(0));
  /** Pointer to column j (plus `extra` bytes) of row pointer `row`. */
  const col = (row: string, extra = 0) => m.i32.add(m.i32.add(g(row), m.i32.shl(g('j'), f.c(2))), f.c(extra));
  const biasAt = (v: number) => m.v128.load(16 * v, 4, m.i32.add(g('bias'), m.i32.shl(g('j'), f.c(2))));
  // The K loop shared by every width: A's element p splatted, B's row p at bp.
  const kLoop = (body: Expr[]): Expr =>
    m.block(null, [
      f.set('ap', g('arow')),
      f.set('bp', m.i32.add(g('b'), m.i32.shl(g('j'), f.c(2)))),
      f.for('p', f.c(0), () => g('k'), 1, [...body, f.bump('ap', g('acs')), f.bump('bp', g('brs'))]),
    ]);
  /** Columns j .. j + 4 * width of row i, while they fit. */
  const pass = (width: number): Expr => {
    const used = acc.slice(0, width);
    return f.while(
      () => m.i32.le_s(m.i32.add(g('j'), f.c(4 * width)), g('n')),
      [
        ...used.map((name, v) => f.set(name, m.if(g('bias'), biasAt(v), zero))),
        kLoop([
          f.set('av', m.v128.load32_splat(0, 4, g('ap'))),
          ...used.map((name, v) => f.set(name, madd(g('av'), m.v128.load(16 * v, 4, g('bp')), g(name)))),
        ]),
        ...used.map((name, v) => m.v128.store(16 * v, 4, col('crow'), g(name))),
        f.inc('j', 4 * width),
      ],
    );
  };
  // The last n % 4 columns, one at a time.
  const scalar = f.while(
    () => m.i32.lt_s(g('j'), g('n')),
    [
      f.set('s', m.if(g('bias'), m.f32.load(0, 4, m.i32.add(g('bias'), m.i32.shl(g('j'), f.c(2)))), m.f32.const(0))),
      kLoop([f.set('s', m.f32.add(m.f32.mul(m.f32.load(0, 4, g('ap')), m.f32.load(0, 4, g('bp'))), g('s')))]),
      m.f32.store(0, 4, col('crow'), g('s')),
      f.inc('j', 1),
    ],
  );
  const body = [
    // strides to bytes
    ...['ars', 'acs', 'brs', 'ldc'].map((s) => f.set(s, m.i32.shl(g(s), f.c(2)))),
    f.for('i', f.c(0), () => g('m'), 1, [
      f.set('arow', m.i32.add(g('a'), m.i32.mul(g('i'), g('ars')))),
      f.set('crow', m.i32.add(g('c'), m.i32.mul(g('i'), g('ldc')))),
      f.set('j', f.c(0)),
      ...WIDTHS.map(pass),
      scalar,
    ]),
  ];
  f.finish('gemv', body);
}
