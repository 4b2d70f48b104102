/**
 * The two innermost loops (BLIS's macro-kernel): over the NR-column panels of a B block and the
 * MR-row panels of a packed A block, one micro-kernel call per C tile. Tiles short of NR columns
 * (the right edge of C) go through a small `tile` buffer so that the kernel always stores NR
 * columns; short of MR rows, the kernel for that many rows runs.
 */
import type binaryen from 'binaryen';
import { type Expr, FnBuilder } from './emit.js';
import { MR, NR } from './microkernel.js';

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

/**
 * `macro(ap, bp, mc, nc, kc, c, ldc, bias, accumulate, tile, bsrc, bstep)`: C[mc, nc] (+)= the packed
 * A block @ the B block. Full B panels come from `bsrc` (B in place, rows `bstep` bytes apart) when
 * `bstep` is non-zero, else from the packed block `bp`; a short last panel is always packed.
 */
export function emitMacroKernel(m: binaryen.Module): void {
  const params = ['ap', 'bp', 'mc', 'nc', 'kc', 'c', 'ldc', 'bias', 'accumulate', 'tile', 'bsrc', 'bstep'];
  const f = new FnBuilder(m, params);
  for (const name of ['jr', 'ir', 'rows', 'cols', 'cp', 'bb', 'bpan', 'apan', 'step']) f.local(name);
  const g = (name: string) => f.get(name);
  const full = () => [g('apan'), g('bpan'), g('kc'), g('cp'), g('ldc'), g('bb'), g('accumulate'), g('step')];
  const edge = () => [g('apan'), g('bpan'), g('kc'), g('tile'), f.c(NR * 4), f.c(0), f.c(1), g('step')];
  const inPlace = () => m.i32.and(m.i32.ne(g('bstep'), f.c(0)), m.i32.eq(g('cols'), f.c(NR)));
  const body = f.for('jr', f.c(0), () => g('nc'), NR, [
    f.set('cols', f.upTo(NR, 'nc', 'jr')),
    f.set('bpan', m.i32.add(g('bp'), m.i32.mul(m.i32.mul(g('jr'), g('kc')), f.c(4)))),
    f.set('step', f.c(NR * 4)),
    m.if(
      inPlace(),
      m.block(null, [f.set('bpan', m.i32.add(g('bsrc'), m.i32.shl(g('jr'), f.c(2)))), f.set('step', g('bstep'))]),
    ),
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
