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
 */
import type binaryen from 'binaryen';
import { FnBuilder } from './emit.js';
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

export function emitPackB(m: binaryen.Module): void {
  const f = new FnBuilder(m, ['b', 'rs', 'cs', 'kc', 'nc', 'dst']);
  for (const name of ['j', 'cols', 'p', 'src', 'q']) f.local(name);
  const contiguous = () => m.i32.and(m.i32.eq(f.get('cs'), f.c(4)), m.i32.eq(f.get('cols'), f.c(NR)));
  // A full panel of a row-major B is NR/4 vector copies a k step; anything else goes element by element.
  const vectors = Array.from({ length: NR / 4 }, (_, v) =>
    m.v128.store(v * 16, 16, f.get('dst'), m.v128.load(v * 16, 4, f.get('src'))),
  );
  const scalars = f.for('q', f.c(0), () => f.c(NR), 1, [
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
  const body = [
    f.for('j', f.c(0), () => f.get('nc'), NR, [
      f.set('cols', f.upTo(NR, 'nc', 'j')),
      f.set('src', m.i32.add(f.get('b'), m.i32.mul(f.get('j'), f.get('cs')))),
      m.if(
        contiguous(),
        f.for('p', f.c(0), () => f.get('kc'), 1, [...vectors, f.bump('src', f.get('rs')), f.inc('dst', NR * 4)]),
        f.for('p', f.c(0), () => f.get('kc'), 1, [scalars, f.bump('src', f.get('rs')), f.inc('dst', NR * 4)]),
      ),
    ]),
  ];
  f.finish('packB', body, false);
}
