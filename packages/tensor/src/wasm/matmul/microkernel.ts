/**
 * The register-blocked micro-kernel (BLIS / XNNPACK design): a `rows x NR` tile of C held in f32x4
 * locals while the K loop streams one packed A panel (MR floats a step) and one packed B panel (NR
 * floats a step). Each step broadcasts one A element per row and multiplies it into the NR/4 B
 * vectors, so a step does `rows * NR` multiply-adds from `rows + NR/4` loads. The loop is unrolled
 * `UNROLL` times with constant offsets. Without fused multiply-add (Node 20's V8 does not validate
 * relaxed SIMD), each multiply-add is an `f32x4.mul` then an `f32x4.add`.
 *
 * Generated function `kernel<rows>(a, b, kc, c, ldc, bias, accumulate)`, all byte addresses:
 * `C[0:rows, 0:NR] (+)= Apanel[0:rows, 0:kc] @ Bpanel[0:kc, 0:NR]`, starting from C itself when
 * `accumulate` is non-zero, else from the bias row (bias non-zero) or zero; `ldc` is C's row pitch.
 */
import type binaryen from 'binaryen';
import { type Expr, FnBuilder, relaxedMadd, v128 } from './emit.js';

/** Rows of the full micro-tile (A panel height). */
export const MR = 4;
/** Columns of the micro-tile (B panel width), a multiple of 4. */
export const NR = 8;
/** K steps per unrolled loop pass. */
export const UNROLL = 1;

const NV = NR / 4;

/** Emits `kernel<rows>` for one tile height `rows` (1..MR); `fma` uses relaxed-SIMD f32x4 madd. */
export function emitMicroKernel(m: binaryen.Module, rows: number, fma: boolean): void {
  const f = new FnBuilder(m, ['a', 'b', 'kc', 'c', 'ldc', 'bias', 'accumulate']);
  const acc: string[][] = [];
  for (let r = 0; r < rows; r++) acc.push(Array.from({ length: NV }, (_, j) => f.local(`acc${r}_${j}`, v128)));
  const bv = Array.from({ length: NV }, (_, j) => f.local(`b${j}`, v128));
  const av = f.local('av', v128);
  f.local('aEnd');
  f.local('crow');

  const rowPtr = (r: number): Expr => m.i32.add(f.get('c'), m.i32.mul(f.get('ldc'), f.c(r)));
  const init = (source: (r: number, j: number) => Expr): Expr[] =>
    acc.flatMap((row, r) => row.map((name, j) => f.set(name, source(r, j))));
  const zero = m.v128.const([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

  const madd = (x: Expr, y: Expr, z: Expr): Expr => (fma ? relaxedMadd(m, x, y, z) : m.f32x4.add(m.f32x4.mul(x, y), z));

  // One K step `u` of an unrolled pass: constant offsets from the panel pointers a and b.
  const step = (u: number): Expr[] => {
    const out: Expr[] = bv.map((name, j) => f.set(name, m.v128.load((u * NR + 4 * j) * 4, 16, f.get('b'))));
    for (let r = 0; r < rows; r++) {
      out.push(f.set(av, m.v128.load32_splat((u * MR + r) * 4, 4, f.get('a'))));
      for (let j = 0; j < NV; j++) out.push(f.set(acc[r][j], madd(f.get(av), f.get(bv[j]), f.get(acc[r][j]))));
    }
    return out;
  };

  // The K loop: unrolled passes while at least UNROLL steps remain, then the rest one at a time.
  // (With UNROLL = 1 a single loop: a second copy of the body made V8 spill accumulators in one.)
  const kLoop = (): Expr[] => {
    const passes = (unroll: number): Expr =>
      f.while(
        () => m.i32.ne(f.get('a'), f.get('aEnd')),
        [
          ...Array.from({ length: unroll }, (_, u) => step(u)).flat(),
          f.inc('a', unroll * MR * 4),
          f.inc('b', unroll * NR * 4),
        ],
      );
    const end = (mask: number) => m.i32.mul(m.i32.and(f.get('kc'), f.c(mask)), f.c(MR * 4));
    if (UNROLL === 1) return [f.set('aEnd', m.i32.add(f.get('a'), end(-1))), passes(1)];
    return [
      f.set('aEnd', m.i32.add(f.get('a'), end(-UNROLL))),
      passes(UNROLL),
      f.set('aEnd', m.i32.add(f.get('aEnd'), end(UNROLL - 1))),
      passes(1),
    ];
  };
  const body: Expr[] = [
    m.if(
      f.get('accumulate'),
      m.block(
        null,
        init((r, j) => m.v128.load(16 * j, 4, rowPtr(r))),
      ),
      m.if(
        f.get('bias'),
        m.block(
          null,
          init((_r, j) => m.v128.load(16 * j, 4, f.get('bias'))),
        ),
        m.block(
          null,
          init(() => zero),
        ),
      ),
    ),
    ...kLoop(),
  ];
  for (let r = 0; r < rows; r++) {
    body.push(f.set('crow', rowPtr(r)));
    for (let j = 0; j < NV; j++) body.push(m.v128.store(16 * j, 4, f.get('crow'), f.get(acc[r][j])));
  }
  f.finish(`kernel${rows}`, body, false);
}
