/**
 * WGSL helpers that the op table's bodies (ops/table.ts) and the kernels call, prepended to every
 * kernel that uses them. NaN and Inf come from a private variable so that no constant expression
 * ever evaluates to a non-finite value (a shader-creation error in WGSL).
 */
export const WGSL_PRELUDE = /* wgsl */ `
var<private> wgru_bits_nan: u32 = 0x7fc00000u;
var<private> wgru_bits_inf: u32 = 0x7f800000u;
fn wgru_nan() -> f32 { return bitcast<f32>(wgru_bits_nan); }
fn wgru_inf() -> f32 { return bitcast<f32>(wgru_bits_inf); }
fn wgru_mask(c: bool) -> f32 { return select(0.0, 1.0, c); }
// By the bits: exponent all ones and a nonzero mantissa (NaN), or a zero mantissa (±Inf).
fn wgru_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn wgru_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn wgru_unordered(a: f32, b: f32) -> bool { return wgru_isnan(a) || wgru_isnan(b); }
// A mask or condition is true where it is nonzero, NaN included.
fn wgru_truthy(c: f32) -> bool { return c != 0.0 || wgru_isnan(c); }
fn wgru_sign(x: f32) -> f32 { return select(sign(x), x, wgru_isnan(x)); }
fn wgru_to_i32(x: f32) -> i32 { return select(i32(x), 0, wgru_isnan(x)); }
fn wgru_relu(x: f32) -> f32 { return select(max(x, 0.0), x, wgru_isnan(x)); }
// IEEE comparisons: false when either side is NaN, except != (then true).
fn wgru_eq(a: f32, b: f32) -> f32 { return wgru_mask(!wgru_unordered(a, b) && a == b); }
fn wgru_ne(a: f32, b: f32) -> f32 { return wgru_mask(wgru_unordered(a, b) || a != b); }
fn wgru_lt(a: f32, b: f32) -> f32 { return wgru_mask(!wgru_unordered(a, b) && a < b); }
fn wgru_le(a: f32, b: f32) -> f32 { return wgru_mask(!wgru_unordered(a, b) && a <= b); }
fn wgru_gt(a: f32, b: f32) -> f32 { return wgru_mask(!wgru_unordered(a, b) && a > b); }
fn wgru_ge(a: f32, b: f32) -> f32 { return wgru_mask(!wgru_unordered(a, b) && a >= b); }
// The built-in log is only good to 2^-21 absolute on [0.5, 2], where log(x) itself is small (a
// relative error of 2% near 1 on llvmpipe). There: log(x) = 2 atanh(s), s = (x - 1) / (x + 1),
// |s| <= 1/3, x - 1 exact, summed as a series to a relative error of about 1e-7.
fn wgru_log(x: f32) -> f32 {
  if (x < 0.0 || wgru_isnan(x)) { return wgru_nan(); }
  if (x == 0.0) { return -wgru_inf(); }
  if (wgru_isinf(x)) { return x; }
  if (x < 0.5 || x > 2.0) { return log(x); }
  let s = (x - 1.0) / (x + 1.0);
  let s2 = s * s;
  let p = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0
    + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 / 15.0))))));
  return 2.0 * s * p;
}
fn wgru_sqrt(x: f32) -> f32 {
  if (x < 0.0 || wgru_isnan(x)) { return wgru_nan(); }
  if (wgru_isinf(x)) { return x; }
  return sqrt(x);
}
// 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below: never exp of a large positive number.
fn wgru_sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
// WGSL's tanh is undefined beyond about ±90 on some drivers, and (e^2x - 1)/(e^2x + 1) loses
// relative precision near 0. So: Lambert's continued fraction (relative error < 3e-12) for |x| < 1,
// and sign(x)(1 - e^-2|x|) / (1 + e^-2|x|), which cannot overflow, beyond.
fn wgru_tanh(x: f32) -> f32 {
  if (wgru_isnan(x)) { return x; }
  let a = abs(x);
  if (a < 1.0) {
    let x2 = x * x;
    return x * (135135.0 + x2 * (17325.0 + x2 * (378.0 + x2))) /
      (135135.0 + x2 * (62370.0 + x2 * (3150.0 + 28.0 * x2)));
  }
  let e = exp(-2.0 * a);
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn wgru_max(a: f32, b: f32) -> f32 {
  if (wgru_isnan(a) || wgru_isnan(b)) { return wgru_nan(); }
  return max(a, b);
}
fn wgru_min(a: f32, b: f32) -> f32 {
  if (wgru_isnan(a) || wgru_isnan(b)) { return wgru_nan(); }
  return min(a, b);
}
// a^b with IEEE/NumPy semantics: integer powers of negative bases are exact (repeated squaring),
// a negative finite base with a fractional exponent is NaN, and (-Inf)^b is that of +Inf.
fn wgru_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (wgru_unordered(a, b)) { return wgru_nan(); }
  let isInt = floor(b) == b;
  if (a < 0.0 && !isInt && wgru_isinf(a)) { return select(0.0, wgru_inf(), b > 0.0); }
  if (isInt && abs(b) <= 64.0) {
    var n = u32(abs(b));
    var base = a;
    var acc = 1.0;
    loop {
      if (n == 0u) { break; }
      if ((n & 1u) == 1u) { acc = acc * base; }
      base = base * base;
      n = n >> 1u;
    }
    return select(acc, 1.0 / acc, b < 0.0);
  }
  if (a < 0.0) {
    if (!isInt) { return wgru_nan(); }
    let odd = abs(b) < 16777216.0 && (u32(abs(b)) & 1u) == 1u;
    let m = exp2(b * log2(-a));
    return select(m, -m, odd);
  }
  if (a == 0.0) { return select(0.0, wgru_inf(), b < 0.0); }
  return exp2(b * log2(a));
}
`;
