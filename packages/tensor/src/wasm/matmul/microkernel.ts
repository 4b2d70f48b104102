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
import binaryen from 'binaryen';
import { type Expr, FnBuilder, v128 } from './emit.js';

/** Rows of the full micro-tile (A panel height). */
export const MR = 6;
/** Columns of the micro-tile (B panel width), a multiple of 4. */
export const NR = 8;
/** K steps per unrolled loop pass. */
export const UNROLL = 4;

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

  const madd = (x: Expr, y: Expr, z: Expr): Expr =>
    fma
      ? binaryen._BinaryenSIMDTernary(m.ptr, binaryen.RelaxedMaddVecF32x4, x, y, z)
      : m.f32x4.add(m.f32x4.mul(x, y), z);

  // One K step `u` of an unrolled pass: constant offsets from the panel pointers a and b.
  const step = (u: number): Expr[] => {
    const out: Expr[] = bv.map((name, j) => f.set(name, m.v128.load((u * NR + 4 * j) * 4, 16, f.get('b'))));
    for (let r = 0; r < rows; r++) {
      out.push(f.set(av, m.v128.load32_splat((u * MR + r) * 4, 4, f.get('a'))));
      for (let j = 0; j < NV; j++) out.push(f.set(acc[r][j], madd(f.get(av), f.get(bv[j]), f.get(acc[r][j]))));
    }
    return out;
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
    // Unrolled passes while at least UNROLL steps remain.
    f.set('aEnd', m.i32.add(f.get('a'), m.i32.mul(m.i32.and(f.get('kc'), f.c(-UNROLL)), f.c(MR * 4)))),
    f.while(
      () => m.i32.ne(f.get('a'), f.get('aEnd')),
      [
        ...Array.from({ length: UNROLL }, (_, u) => step(u)).flat(),
        f.inc('a', UNROLL * MR * 4),
        f.inc('b', UNROLL * NR * 4),
      ],
    ),
    // The remaining kc % UNROLL steps, one at a time.
    f.set('aEnd', m.i32.add(f.get('aEnd'), m.i32.mul(m.i32.and(f.get('kc'), f.c(UNROLL - 1)), f.c(MR * 4)))),
    f.while(() => m.i32.ne(f.get('a'), f.get('aEnd')), [...step(0), f.inc('a', MR * 4), f.inc('b', NR * 4)]),
  ];
  for (let r = 0; r < rows; r++) {
    body.push(f.set('crow', rowPtr(r)));
    for (let j = 0; j < NV; j++) body.push(m.v128.store(16 * j, 4, f.get('crow'), f.get(acc[r][j])));
  }
  f.finish(`kernel${rows}`, body, false);
}
