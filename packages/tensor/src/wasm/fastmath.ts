/**
 * SIMD versions of the hot library functions (exp, sigmoid, tanh), four lanes at once, instead of
 * library.ts's lane-by-lane calls into JavaScript. They must agree with the plain ones to float32
 * accuracy (the property tests hold both to the float64 oracle's tolerances).
 *
 * - exp: Cephes' expf. n = round(x log2 e), r = x - n ln 2 (in two parts, so r is exact), e^r by a
 *   degree-7 polynomial (relative error ~1 ulp), times 2^n built in the exponent bits, in two halves
 *   so that results down to the smallest denormal are right; overflow to +Inf and underflow to 0
 *   beyond the float32 range; NaN stays NaN.
 * - sigmoid: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below (never e of a large number), as WGSL.
 * - tanh: for |x| < 1 Lambert's continued fraction (as WGSL), beyond sign(x)(1 - e)/(1 + e) with
 *   e = e^-2|x|, which cannot overflow.
 *
 * They are emitted inline into the kernel's loop, their constants splatted once before it
 * (`FastContext.k`). As functions called per vector, with every constant rebuilt per call (three
 * instructions each in V8's code), they took 12.7, 15.4 and 19.1 ns per four lanes (exp, sigmoid,
 * tanh; [64, 1024] float32, in L2); inline, 4.3, 5.9 and 8.6.
 * Choices that keep the results bit for bit those of the straightforward formulas:
 * - round(x log2 e) by adding and subtracting 1.5 * 2^23 (ties to even, as f32x4.nearest, for
 *   |x log2 e| < 2^22), whose bits minus those of 1.5 * 2^23 are the integer n (no float-to-int
 *   conversion, a long sequence in V8);
 * - no selects for overflow and underflow: x clamped to [-104, 89] already scales to +Inf above
 *   88.7228394 (n = 128, e^r >= 1) and to 0 below -103.972084 (below 2^-150, rounded once);
 * - pmin/pmax (one instruction) for the clamp: they differ from min/max only on -0 and NaN, and
 *   keep a NaN x (the first operand) as it is;
 * - sigmoid and tanh pick their numerator and denominator per lane and divide once.
 * @module
 */
import type binaryen from 'binaryen';
import { v128 } from './module.js';
import type { LibFn, Operand } from './simd-ops.js';

/** What an inline emitter needs from the kernel being built. */
export interface FastContext {
  m: binaryen.Module;
  /** A read of the f32 (or, with 'i32', i32) constant `c` in every lane, set up before the loop. */
  k(c: number, type?: 'f32' | 'i32'): number;
  /** A fresh v128 local of the kernel. */
  local(): number;
}

const LOG2E = Math.LOG2E;
const LN2_HI = 0.693359375;
const LN2_LO = -2.1219444e-4;
const EXP_POLY = [1.98756915e-4, 1.39819995e-3, 8.33345191e-3, 4.16657959e-2, 1.66666655e-1, 5.00000012e-1];
/** 1.5 * 2^23: adding it rounds a float32 below 2^22 in magnitude to an integer, in the low bits. */
const ROUNDER = 12582912;

/** Whether `fn` has an inline SIMD version. */
export function hasFast(fn: LibFn): boolean {
  return fn === 'exp' || fn === 'sigmoid' || fn === 'tanh';
}

/**
 * The inline SIMD code for `fn(x)` (a v128 expression: a block that sets its temporaries, then
 * yields the result). Only for the functions `hasFast` names.
 */
export function emitFast(c: FastContext, fn: LibFn, x: Operand): number {
  const { m, k } = c;
  const stmts: number[] = [];
  const get = (l: number) => m.local.get(l, v128);
  /** Evaluates `v` once into a local; the operand reads it. */
  const let_ = (v: number): Operand => {
    const l = c.local();
    stmts.push(m.local.set(l, v));
    return () => get(l);
  };
  const add = (a: number, b: number) => m.f32x4.add(a, b);
  const sub = (a: number, b: number) => m.f32x4.sub(a, b);
  const mul = (a: number, b: number) => m.f32x4.mul(a, b);
  const div = (a: number, b: number) => m.f32x4.div(a, b);

  const exp = (arg: Operand): Operand => {
    const xc = let_(m.f32x4.pmin(m.f32x4.pmax(arg(), k(-104)), k(89)));
    const t = let_(add(mul(xc(), k(LOG2E)), k(ROUNDER)));
    const n = let_(sub(t(), k(ROUNDER)));
    const ni = let_(m.i32x4.sub(t(), k(ROUNDER))); // the integer n: bits(t) - bits(1.5 * 2^23)
    const r = let_(sub(sub(xc(), mul(n(), k(LN2_HI))), mul(n(), k(LN2_LO))));
    let p = k(EXP_POLY[0] as number);
    for (const coef of EXP_POLY.slice(1)) p = add(mul(p, r()), k(coef));
    const e = add(add(mul(mul(p, r()), r()), r()), k(1));
    const h = let_(m.i32x4.shr_s(ni(), m.i32.const(1)));
    const scale = (v: number) => m.i32x4.shl(m.i32x4.add(v, k(127, 'i32')), m.i32.const(23));
    // beyond the float32 range the clamped x gives +Inf (x > 88.7228394: n = 128) or 0 (x < -103.972084)
    return let_(mul(mul(e, scale(h())), scale(m.i32x4.sub(ni(), h()))));
  };

  let result: number;
  if (fn === 'exp') {
    result = exp(x)();
  } else if (fn === 'sigmoid') {
    // 1 / (1 + e) for x >= 0, e / (1 + e) below, e = e^-|x|
    const e = exp(let_(m.f32x4.neg(m.f32x4.abs(x()))));
    result = div(m.v128.bitselect(k(1), e(), m.f32x4.ge(x(), k(0))), add(k(1), e()));
  } else if (fn === 'tanh') {
    const a = let_(m.f32x4.abs(x()));
    const x2 = let_(mul(x(), x()));
    const small = let_(m.f32x4.lt(a(), k(1)));
    // |x| < 1: x (135135 + x²(17325 + x²(378 + x²))) / (135135 + x²(62370 + x²(3150 + 28 x²)))
    const num = mul(x(), add(k(135135), mul(x2(), add(k(17325), mul(x2(), add(k(378), x2()))))));
    const den = add(k(135135), mul(x2(), add(k(62370), mul(x2(), add(k(3150), mul(k(28), x2()))))));
    // beyond: sign(x) (1 - e) / (1 + e), e = e^-2|x| (the sign on the numerator, which is >= 0)
    const e = exp(let_(mul(k(-2), a())));
    const bigNum = m.v128.or(sub(k(1), e()), m.v128.and(x(), k(-2147483648, 'i32')));
    result = div(m.v128.bitselect(num, bigNum, small()), m.v128.bitselect(den, add(k(1), e()), small()));
  } else {
    throw new Error(`wasm backend: no inline SIMD ${fn} (a bug in wgru)`);
  }
  return m.block(null, [...stmts, result], v128);
}
