/**
 * Rows of C one at a time, for products with very few rows (generating a token multiplies one row
 * by W, by U and by the output layer). The micro-kernel's one-row tile holds NR / 4 = 2 accumulators,
 * so each K step waits for the previous step's add (latency-bound). This kernel keeps the row of C
 * in memory (it stays in L1) and streams B's rows in place, four at a time: each 4 columns of C are
 * loaded once, take four multiply-adds (rows p .. p+3 in order), and are stored. B is read front to back, as it lies in memory, which the prefetcher
 * follows. `sgemm` routes here when A has at most `GEMV_MAX_ROWS` rows and B's columns are
 * contiguous; every C[i, j] is the same sum in the same order (bias, then p = 0, 1, ..., k - 1) as
 * on the blocked path.
 *
 * Measured, a generated token at H = 256 (three one-row products, 1.3 MB of weights), warm, median
 * of 15 runs of 100 tokens, alternating processes: 0.061-0.066 ms with this kernel; 0.070-0.074 ms
 * with one that walked 32 columns down all of B's rows with 8 accumulators in registers.
 *
 * Generated function `gemv(m, n, k, a, ars, acs, b, brs, c, ldc, bias)`: byte addresses, strides in
 * elements; `C[i, j] = bias[j] (or 0) + Σ_p A[i, p] B[p, j]`.
 */
import binaryen from 'binaryen';
import { type Expr, FnBuilder, relaxedMadd, v128 } from './emit.js';

/** At most this many rows of A go through `gemv`. */
export const GEMV_MAX_ROWS = 1;

/** Rows of B per pass. */
const ROWS = 4;

export function emitGemv(m: binaryen.Module, fma: boolean): void {
  const f = new FnBuilder(m, ['m', 'n', 'k', 'a', 'ars', 'acs', 'b', 'brs', 'c', 'ldc', 'bias']);
  for (const name of ['i', 'j', 'p', 'arow', 'crow', 'bp']) f.local(name);
  const av = Array.from({ length: ROWS }, (_, r) => f.local(`a${r}`, v128));
  const as = Array.from({ length: ROWS }, (_, r) => f.local(`s${r}`, binaryen.f32));
  f.local('cv', v128);
  f.local('cs', binaryen.f32);
  const g = (name: string) => f.get(name);
  const madd = (x: Expr, y: Expr, z: Expr): Expr => (fma ? relaxedMadd(m, x, y, z) : m.f32x4.add(m.f32x4.mul(x, y), z));
  const j4 = () => m.i32.shl(g('j'), f.c(2));
  const cAt = () => m.i32.add(g('crow'), j4());
  const bAt = (r: number) => m.i32.add(m.i32.add(g('bp'), m.i32.mul(g('brs'), f.c(r))), j4());
  // C's row i starts as the bias (or zero)
  const init = [
    f.set('j', f.c(0)),
    f.while(
      () => m.i32.le_s(m.i32.add(g('j'), f.c(4)), g('n')),
      [
        m.v128.store(
          0,
          4,
          cAt(),
          m.if(g('bias'), m.v128.load(0, 4, m.i32.add(g('bias'), j4())), m.v128.const(new Array(16).fill(0))),
        ),
        f.inc('j', 4),
      ],
    ),
    f.while(
      () => m.i32.lt_s(g('j'), g('n')),
      [
        m.f32.store(0, 4, cAt(), m.if(g('bias'), m.f32.load(0, 4, m.i32.add(g('bias'), j4())), m.f32.const(0))),
        f.inc('j', 1),
      ],
    ),
  ];
  /** C[i, :] += Σ_{r < count} A[i, p + r] B[p + r, :], rows in order, for a constant count. */
  const pass = (count: number): Expr[] => [
    ...av
      .slice(0, count)
      .map((name, r) =>
        f.set(name, m.v128.load32_splat(0, 4, m.i32.add(g('arow'), m.i32.mul(m.i32.add(g('p'), f.c(r)), g('acs'))))),
      ),
    ...as
      .slice(0, count)
      .map((name, r) =>
        f.set(name, m.f32.load(0, 4, m.i32.add(g('arow'), m.i32.mul(m.i32.add(g('p'), f.c(r)), g('acs'))))),
      ),
    f.set('bp', m.i32.add(g('b'), m.i32.mul(g('p'), g('brs')))),
    f.set('j', f.c(0)),
    f.while(
      () => m.i32.le_s(m.i32.add(g('j'), f.c(4)), g('n')),
      [
        f.set('cv', m.v128.load(0, 4, cAt())),
        ...av.slice(0, count).map((name, r) => f.set('cv', madd(g(name), m.v128.load(0, 4, bAt(r)), g('cv')))),
        m.v128.store(0, 4, cAt(), g('cv')),
        f.inc('j', 4),
      ],
    ),
    f.while(
      () => m.i32.lt_s(g('j'), g('n')),
      [
        f.set('cs', m.f32.load(0, 4, cAt())),
        ...as
          .slice(0, count)
          .map((name, r) => f.set('cs', m.f32.add(m.f32.mul(g(name), m.f32.load(0, 4, bAt(r))), g('cs')))),
        m.f32.store(0, 4, cAt(), g('cs')),
        f.inc('j', 1),
      ],
    ),
    f.inc('p', count),
  ];
  const body = [
    ...['ars', 'acs', 'brs', 'ldc'].map((s) => f.set(s, m.i32.shl(g(s), f.c(2)))),
    f.for('i', f.c(0), () => g('m'), 1, [
      f.set('arow', m.i32.add(g('a'), m.i32.mul(g('i'), g('ars')))),
      f.set('crow', m.i32.add(g('c'), m.i32.mul(g('i'), g('ldc')))),
      ...init,
      f.set('p', f.c(0)),
      f.while(() => m.i32.le_s(m.i32.add(g('p'), f.c(ROWS)), g('k')), pass(ROWS)),
      f.while(() => m.i32.lt_s(g('p'), g('k')), pass(1)),
    ]),
  ];
  f.finish('gemv', body);
}
