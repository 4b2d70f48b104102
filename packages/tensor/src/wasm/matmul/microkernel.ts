/**
 * The register-blocked micro-kernel (BLIS / XNNPACK design): a `rows x NR` tile of C held in f32x4
 * locals while the K loop streams one packed A panel (MR floats a step) and one B panel (NR floats
 * a step, `bstep` bytes apart: packed, or B's own rows when B is read in place). Each step
 * broadcasts one A element per row and multiplies it into the NR/4 B vectors: `rows * NR`
 * multiply-adds from `rows + NR/4` loads. Each multiply-add is one relaxed-SIMD `f32x4.relaxed_madd`
 * (a fused multiply-add on x86 with FMA; ../v8-flags.ts turns it on in Node 20), or an `f32x4.mul`
 * then an `f32x4.add` where the engine lacks it.
 *
 * Measured on this machine's 16 SIMD registers. Without FMA (GFLOP/s per CPU-second, 120x1024x256):
 * 4x8 39, 5x8 39, 6x8 39, 3x16 38; unrolling K by 2 or 4 fell to 35 and 32 (V8 hoists the unrolled
 * loads and spills), so the K loop is not unrolled. With FMA (no product temporaries to keep),
 * 1024^3 on one thread: 4x8 43.7, 5x8 49.3, 6x8 50.8 GFLOP/s; the GRU training step at B=64 H=256
 * 192-199 ms with 6x8 against 213-222 with 4x8. Hence 6x8: 12 accumulators, 2 B vectors, 1 A splat. *
 * Generated function `kernel<rows>(a, b, kc, c, ldc, bias, accumulate, bstep)`, byte addresses:
 * `C[0:rows, 0:NR] (+)= Apanel[0:rows, 0:kc] @ Bpanel[0:kc, 0:NR]`, starting from C itself when
 * `accumulate` is non-zero, else from the bias row (bias non-zero) or zero; `ldc` is C's row pitch.
 */
import type binaryen from 'binaryen';
import { type Expr, FnBuilder, relaxedMadd, v128 } from './emit.js';

/** Rows of the full micro-tile (A panel height). */
export const MR = 6;
/** Columns of the micro-tile (B panel width), a multiple of 4. */
export const NR = 8;

const NV = NR / 4;

/** Emits `kernel<rows>` for one tile height `rows` (1..MR); `fma` uses relaxed-SIMD f32x4 madd. */
export function emitMicroKernel(m: binaryen.Module, rows: number, fma: boolean): void {
  const f = new FnBuilder(m, ['a', 'b', 'kc', 'c', 'ldc', 'bias', 'accumulate', 'bstep']);
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

  // One K step: NR/4 B vectors, then per row one broadcast A element times each of them.
  const step: Expr[] = bv.map((name, j) => f.set(name, m.v128.load(16 * j, 4, f.get('b'))));
  for (let r = 0; r < rows; r++) {
    step.push(f.set(av, m.v128.load32_splat(4 * r, 4, f.get('a'))));
    for (let j = 0; j < NV; j++) step.push(f.set(acc[r][j], madd(f.get(av), f.get(bv[j]), f.get(acc[r][j]))));
  }
  const kLoop = [
    f.set('aEnd', m.i32.add(f.get('a'), m.i32.mul(f.get('kc'), f.c(MR * 4)))),
    f.while(() => m.i32.ne(f.get('a'), f.get('aEnd')), [...step, f.inc('a', MR * 4), f.bump('b', f.get('bstep'))]),
  ];
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
    ...kLoop,
  ];
  for (let r = 0; r < rows; r++) {
    body.push(f.set('crow', rowPtr(r)));
    for (let j = 0; j < NV; j++) body.push(m.v128.store(16 * j, 4, f.get('crow'), f.get(acc[r][j])));
  }
  f.finish(`kernel${rows}`, body, false);
}
