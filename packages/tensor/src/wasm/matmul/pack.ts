/**
 * Packing: copies a block of A or B, read through any strides, into the contiguous panel order the
 * micro-kernel streams (BLIS's packed panels). Transposed views cost nothing extra here: the strides
 * say where each element is, and the packed copy is always the same.
 *
 * - `packA(a, rs, cs, mc, kc, dst)`: A block [mc, kc] (byte strides rs, cs) into panels of MR rows;
 *   panel `i` starts at `dst + i*MR*kc*4` and holds, for each k step, its MR row values. A short last
 *   panel leaves its missing rows unwritten (the short-tile kernels never read them).
 * - `packB(b, rs, cs, kc, nc, dst)`: B block [kc, nc] into panels of NR columns; panel `j` starts at
 *   `dst + j*NR*kc*4` and holds, for each k step, its NR column values, zero past the last column.
 *   A full panel is copied with vectors where B is row-major (NR/4 loads a k step) and where it is a
 *   transposed view, k contiguous (a GRU's dh @ Uᵀ): then 4 k steps of each of the NR columns are
 *   loaded and turned into NR/4 vectors per k step by 4x4 transposes (`transpose4`); the same values
 *   land in the same places as element by element, which is what a short panel and a ragged end of
 *   k still do.
 */
import type binaryen from 'binaryen';
import { type Expr, FnBuilder, v128 } from './emit.js';
import { MR, NR } from './microkernel.js';

export function emitPackA(m: binaryen.Module): void {
  const f = new FnBuilder(m, ['a', 'rs', 'cs', 'mc', 'kc', 'dst']);
  for (const name of ['i', 'rows', 'p', 'src', 'r']) f.local(name);
  const row = (r: number) => m.i32.add(f.get('src'), m.i32.mul(f.get('rs'), f.c(r)));
  const copyRow = (r: number) => m.f32.store(r * 4, 4, f.get('dst'), m.f32.load(0, 4, row(r)));
  // Each k step copies one column of the panel: MR stores when the panel is full, else `rows`.
  const column = m.if(
    m.i32.eq(f.get('rows'), f.c(MR)),
    m.block(
      null,
      Array.from({ length: MR }, (_, r) => copyRow(r)),
    ),
    f.for('r', f.c(0), () => f.get('rows'), 1, [
      m.f32.store(
        0,
        4,
        m.i32.add(f.get('dst'), m.i32.shl(f.get('r'), f.c(2))),
        m.f32.load(0, 4, m.i32.add(f.get('src'), m.i32.mul(f.get('rs'), f.get('r')))),
      ),
    ]),
  );
  const body = [
    f.for('i', f.c(0), () => f.get('mc'), MR, [
      f.set('rows', f.upTo(MR, 'mc', 'i')),
      f.set('src', m.i32.add(f.get('a'), m.i32.mul(f.get('i'), f.get('rs')))),
      f.for('p', f.c(0), () => f.get('kc'), 1, [column, f.bump('src', f.get('cs')), f.inc('dst', MR * 4)]),
    ]),
  ];
  f.finish('packA', body, false);
}

/** Byte mask of an `i8x16.shuffle` that picks float lanes (0-3 from the left operand, 4-7 from the right). */
const lanes = (l: readonly number[]) => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);

/**
 * The 4x4 transpose of rows r0..r3 (4 floats each): returns the columns, c_j = [r0_j, r1_j, r2_j, r3_j],
 * as 8 shuffles: pairs of rows interleaved, then pairs of pairs.
 */
function transpose4(m: binaryen.Module, r: readonly (() => Expr)[]): Expr[] {
  const lo = (a: Expr, b: Expr) => m.i8x16.shuffle(a, b, lanes([0, 4, 1, 5]));
  const hi = (a: Expr, b: Expr) => m.i8x16.shuffle(a, b, lanes([2, 6, 3, 7]));
  const pairs = [
    () => lo(r[0](), r[1]()),
    () => hi(r[0](), r[1]()),
    () => lo(r[2](), r[3]()),
    () => hi(r[2](), r[3]()),
  ];
  const first = (a: Expr, b: Expr) => m.i8x16.shuffle(a, b, lanes([0, 1, 4, 5]));
  const second = (a: Expr, b: Expr) => m.i8x16.shuffle(a, b, lanes([2, 3, 6, 7]));
  return [
    first(pairs[0](), pairs[2]()),
    second(pairs[0](), pairs[2]()),
    first(pairs[1](), pairs[3]()),
    second(pairs[1](), pairs[3]()),
  ];
}

export function emitPackB(m: binaryen.Module): void {
  const f = new FnBuilder(m, ['b', 'rs', 'cs', 'kc', 'nc', 'dst']);
  for (const name of ['j', 'cols', 'p', 'src', 'q']) f.local(name);
  const cols = Array.from({ length: NR }, (_, q) => f.local(`col${q}`, v128));
  const contiguous = () => m.i32.and(m.i32.eq(f.get('cs'), f.c(4)), m.i32.eq(f.get('cols'), f.c(NR)));
  const transposed = () => m.i32.and(m.i32.eq(f.get('rs'), f.c(4)), m.i32.eq(f.get('cols'), f.c(NR)));
  // A full panel of a row-major B is NR/4 vector copies a k step; anything else goes element by element.
  const vectors = Array.from({ length: NR / 4 }, (_, v) =>
    m.v128.store(v * 16, 16, f.get('dst'), m.v128.load(v * 16, 4, f.get('src'))),
  );
  // Built anew where used: a binaryen expression has one place in the tree.
  const scalars = () =>
    f.for('q', f.c(0), () => f.c(NR), 1, [
      m.f32.store(
        0,
        4,
        m.i32.add(f.get('dst'), m.i32.shl(f.get('q'), f.c(2))),
        m.if(
          m.i32.lt_s(f.get('q'), f.get('cols')),
          m.f32.load(0, 4, m.i32.add(f.get('src'), m.i32.mul(f.get('cs'), f.get('q')))),
          m.f32.const(0),
        ),
      ),
    ]);
  const step = () => [scalars(), f.bump('src', f.get('rs')), f.inc('dst', NR * 4)];
  // Four k steps of a transposed panel: column q's 4 values in one load, then 4x4 transposes give,
  // for each k step, the values of columns 4g..4g+3 as one vector.
  const fourSteps: Expr[] = [
    ...cols.map((c, q) => f.set(c, m.v128.load(0, 4, m.i32.add(f.get('src'), m.i32.mul(f.get('cs'), f.c(q)))))),
    ...Array.from({ length: NR / 4 }, (_, g) =>
      transpose4(
        m,
        cols.slice(4 * g, 4 * g + 4).map((c) => () => f.get(c)),
      ).map((column, k) => m.v128.store(k * NR * 4 + g * 16, 16, f.get('dst'), column)),
    ).flat(),
    f.inc('src', 16),
    f.inc('dst', 4 * NR * 4),
    f.inc('p', 4),
  ];
  const body = [
    f.for('j', f.c(0), () => f.get('nc'), NR, [
      f.set('cols', f.upTo(NR, 'nc', 'j')),
      f.set('src', m.i32.add(f.get('b'), m.i32.mul(f.get('j'), f.get('cs')))),
      m.if(
        contiguous(),
        f.for('p', f.c(0), () => f.get('kc'), 1, [...vectors, f.bump('src', f.get('rs')), f.inc('dst', NR * 4)]),
        m.if(
          transposed(),
          m.block(null, [
            f.set('p', f.c(0)),
            f.while(() => m.i32.le_s(m.i32.add(f.get('p'), f.c(4)), f.get('kc')), fourSteps),
            f.while(() => m.i32.lt_s(f.get('p'), f.get('kc')), [...step(), f.inc('p', 1)]),
          ]),
          f.for('p', f.c(0), () => f.get('kc'), 1, step()),
        ),
      ),
    ]),
  ];
  f.finish('packB', body, false);
}
