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
 * @module
 */
import binaryen from 'binaryen';
import { v128 } from './module.js';
import type { LibFn } from './simd-ops.js';

const LOG2E = Math.LOG2E;
const LN2_HI = 0.693359375;
const LN2_LO = -2.1219444e-4;
const EXP_POLY = [1.98756915e-4, 1.39819995e-3, 8.33345191e-3, 4.16657959e-2, 1.66666655e-1, 5.00000012e-1];

/** Adds `$fn` as SIMD code if there is a fast version of it; false otherwise. */
export function addFastFunction(m: binaryen.Module, fn: LibFn): boolean {
  if (fn !== 'exp' && fn !== 'sigmoid' && fn !== 'tanh') return false;
  if ((fn === 'sigmoid' || fn === 'tanh') && !m.getFunction('exp')) addFastFunction(m, 'exp');
  const vars: number[] = [];
  const local = (): number => {
    vars.push(v128);
    return vars.length; // param 0 is x
  };
  const get = (l: number) => m.local.get(l, v128);
  const k = (c: number) => m.f32x4.splat(m.f32.const(c));
  const ki = (c: number) => m.i32x4.splat(m.i32.const(c));
  const { add, sub, mul, div } = {
    add: (a: number, b: number) => m.f32x4.add(a, b),
    sub: (a: number, b: number) => m.f32x4.sub(a, b),
    mul: (a: number, b: number) => m.f32x4.mul(a, b),
    div: (a: number, b: number) => m.f32x4.div(a, b),
  };
  const stmts: number[] = [];
  const let_ = (v: number): number => {
    const l = local();
    stmts.push(m.local.set(l, v));
    return l;
  };
  const x = 0;
  let result: number;
  if (fn === 'exp') {
    const xc = let_(m.f32x4.min(m.f32x4.max(get(x), k(-104)), k(89)));
    const n = let_(m.f32x4.nearest(mul(get(xc), k(LOG2E))));
    const r = let_(sub(sub(get(xc), mul(get(n), k(LN2_HI))), mul(get(n), k(LN2_LO))));
    let p = k(EXP_POLY[0]);
    for (const c of EXP_POLY.slice(1)) p = add(mul(p, get(r)), k(c));
    const e = let_(add(add(mul(mul(p, get(r)), get(r)), get(r)), k(1)));
    const ni = let_(m.i32x4.trunc_sat_f32x4_s(get(n)));
    const h = let_(m.i32x4.shr_s(get(ni), m.i32.const(1)));
    const scale = (v: number) => m.i32x4.shl(m.i32x4.add(v, ki(127)), m.i32.const(23));
    let y = mul(mul(get(e), scale(get(h))), scale(m.i32x4.sub(get(ni), get(h))));
    y = m.v128.bitselect(k(Number.POSITIVE_INFINITY), y, m.f32x4.gt(get(x), k(88.7228394)));
    result = m.v128.bitselect(k(0), y, m.f32x4.lt(get(x), k(-103.972084)));
  } else if (fn === 'sigmoid') {
    const e = let_(m.call('exp', [m.f32x4.neg(m.f32x4.abs(get(x)))], v128));
    const d = let_(add(k(1), get(e)));
    result = m.v128.bitselect(div(k(1), get(d)), div(get(e), get(d)), m.f32x4.ge(get(x), k(0)));
  } else {
    const a = let_(m.f32x4.abs(get(x)));
    const x2 = let_(mul(get(x), get(x)));
    const num = mul(get(x), add(k(135135), mul(get(x2), add(k(17325), mul(get(x2), add(k(378), get(x2)))))));
    const den = add(k(135135), mul(get(x2), add(k(62370), mul(get(x2), add(k(3150), mul(k(28), get(x2)))))));
    const small = div(num, den);
    const e = let_(m.call('exp', [mul(k(-2), get(a))], v128));
    const big = m.v128.or(div(sub(k(1), get(e)), add(k(1), get(e))), m.v128.and(get(x), ki(-2147483648)));
    result = m.v128.bitselect(small, big, m.f32x4.lt(get(a), k(1)));
  }
  m.addFunction(fn, binaryen.createType([v128]), v128, vars, m.block(null, [...stmts, result], v128));
  return true;
}
