/**
 * The table of elementwise primitives. Each entry has its WGSL body and an independent CPU
 * reference written with JavaScript's Math (a real oracle for the shader, not a translation of
 * it). Gradients live in @wgru/autograd's VJP table, keyed by these same names.
 *
 * WGSL leaves some results undefined (`log` of a negative number, `tanh` beyond ±90, `pow` with a
 * negative base): the bodies below spell out the IEEE answer instead of trusting the driver.
 * WGSL also lets a compiler assume that no NaN exists at run time, and real ones act on it (`x != x`
 * folds to false, `max(NaN, 0)` is 0, `NaN != 0` is false): every float op whose answer depends
 * on NaN tests for it by its bits (`wgru_isnan`), and comparisons go through helpers that do so.
 * The `wgru_*` helpers the bodies call are WGSL, in webgpu/kernels/prelude.ts.
 */

import type { F32Op, I32Op, Operand, SimdOps } from '../wasm/simd-ops.js';

/** Names of the unary elementwise primitives. */
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'reciprocal'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'sin'
  | 'cos'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'isnan'
  | 'isinf';

/** Names of the binary elementwise primitives (NumPy broadcasting applies to all). */
export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'equal'
  | 'notEqual'
  | 'less'
  | 'lessEqual'
  | 'greater'
  | 'greaterEqual';

export interface UnarySpec {
  /** WGSL expression of `x` (a value of type `t`, 'f32' or 'i32'). */
  wgsl: (x: string, t: 'f32' | 'i32') => string;
  /** Independent reference on the CPU. */
  cpu: (x: number) => number;
  /** WebAssembly SIMD: four lanes of `x` (type `t`) in, four out (wasm/simd-ops.ts). */
  wasm: (w: SimdOps, x: Operand, t: 'f32' | 'i32') => number;
  /** Whether int32 inputs stay int32 (neg, abs, ...); otherwise they are converted to float. */
  keepsInt: boolean;
  /** Whether the result is a float32 0/1 mask regardless of the input type. */
  mask?: boolean;
}

export interface BinarySpec {
  wgsl: (a: string, b: string, t: 'f32' | 'i32') => string;
  cpu: (a: number, b: number) => number;
  wasm: (w: SimdOps, a: Operand, b: Operand, t: 'f32' | 'i32') => number;
  keepsInt: boolean;
  mask?: boolean;
}

const bool = (c: boolean) => (c ? 1 : 0);

/** The float comparisons, by the name of their WGSL helper (see `wgru_lt` and friends in webgpu/kernels/prelude.ts). */
const COMPARISONS = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' } as const;

/** A comparison as a 0/1 mask: plain on i32, through a NaN-aware helper on f32. */
function compare(name: keyof typeof COMPARISONS): BinarySpec['wgsl'] {
  return (a, b, t) => (t === 'i32' ? `wgru_mask(${a} ${COMPARISONS[name]} ${b})` : `wgru_${name}(${a}, ${b})`);
}

/** A comparison as a 0/1 mask in WebAssembly: the f32x4 ones are IEEE (false on NaN, but ne). */
function compareWasm(f: F32Op, i: I32Op): BinarySpec['wasm'] {
  return (w, a, b, t) => w.mask(t === 'f32' ? w.f(f, a, b) : w.i(i, a, b));
}

export const unaryOps: Record<UnaryOp, UnarySpec> = {
  neg: {
    wgsl: (x) => `(-${x})`,
    cpu: (x) => -x,
    wasm: (w, x, t) => (t === 'f32' ? w.f('neg', x) : w.i('neg', x)),
    keepsInt: true,
  },
  abs: {
    wgsl: (x) => `abs(${x})`,
    cpu: Math.abs,
    wasm: (w, x, t) => (t === 'f32' ? w.f('abs', x) : w.i('abs', x)),
    keepsInt: true,
  },
  sign: {
    wgsl: (x, t) => (t === 'f32' ? `wgru_sign(${x})` : `sign(${x})`),
    cpu: (x) => (Number.isNaN(x) ? x : Math.sign(x) + 0),
    // (x > 0) - (x < 0), NaN kept; on i32 the masks are -1, so lt - gt
    wasm: (w, x, t) =>
      t === 'f32'
        ? w.select(
            () => w.f('ne', x, x),
            x,
            () =>
              w.f(
                'sub',
                () => w.mask(w.f('gt', x, () => w.splat('f32', 0))),
                () => w.mask(w.f('lt', x, () => w.splat('f32', 0))),
              ),
          )
        : w.i(
            'sub',
            () => w.i('lt_s', x, () => w.splat('i32', 0)),
            () => w.i('gt_s', x, () => w.splat('i32', 0)),
          ),
    keepsInt: true,
  },
  exp: { wgsl: (x) => `exp(${x})`, cpu: Math.exp, wasm: (w, x) => w.lib('exp', x), keepsInt: false },
  log: { wgsl: (x) => `wgru_log(${x})`, cpu: Math.log, wasm: (w, x) => w.lib('log', x), keepsInt: false },
  sqrt: { wgsl: (x) => `wgru_sqrt(${x})`, cpu: Math.sqrt, wasm: (w, x) => w.f('sqrt', x), keepsInt: false },
  reciprocal: {
    wgsl: (x) => `(1.0 / ${x})`,
    cpu: (x) => 1 / x,
    wasm: (w, x) => w.f('div', () => w.splat('f32', 1), x),
    keepsInt: false,
  },
  sigmoid: {
    wgsl: (x) => `wgru_sigmoid(${x})`,
    cpu: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
    wasm: (w, x) => w.lib('sigmoid', x),
    keepsInt: false,
  },
  tanh: { wgsl: (x) => `wgru_tanh(${x})`, cpu: Math.tanh, wasm: (w, x) => w.lib('tanh', x), keepsInt: false },
  relu: {
    wgsl: (x, t) => (t === 'f32' ? `wgru_relu(${x})` : `max(${x}, 0)`),
    cpu: (x) => (x > 0 ? x : Number.isNaN(x) ? x : 0),
    // wasm's f32x4.max propagates NaN
    wasm: (w, x, t) =>
      t === 'f32' ? w.f('max', x, () => w.splat('f32', 0)) : w.i('max_s', x, () => w.splat('i32', 0)),
    keepsInt: true,
  },
  sin: { wgsl: (x) => `sin(${x})`, cpu: Math.sin, wasm: (w, x) => w.lib('sin', x), keepsInt: false },
  cos: { wgsl: (x) => `cos(${x})`, cpu: Math.cos, wasm: (w, x) => w.lib('cos', x), keepsInt: false },
  floor: { wgsl: (x) => `floor(${x})`, cpu: Math.floor, wasm: (w, x) => w.f('floor', x), keepsInt: false },
  ceil: { wgsl: (x) => `ceil(${x})`, cpu: Math.ceil, wasm: (w, x) => w.f('ceil', x), keepsInt: false },
  // Round half to even, as NumPy and WGSL do.
  round: {
    wgsl: (x) => `round(${x})`,
    cpu: (x) => {
      const r = Math.round(x);
      return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
    },
    wasm: (w, x) => w.f('nearest', x),
    keepsInt: false,
  },
  isnan: {
    wgsl: (x) => `wgru_mask(wgru_isnan(${x}))`,
    cpu: (x) => bool(Number.isNaN(x)),
    wasm: (w, x) => w.mask(w.f('ne', x, x)),
    keepsInt: false,
    mask: true,
  },
  isinf: {
    wgsl: (x) => `wgru_mask(wgru_isinf(${x}))`,
    cpu: (x) => bool(Math.abs(x) === Number.POSITIVE_INFINITY),
    wasm: (w, x) =>
      w.mask(
        w.f(
          'eq',
          () => w.f('abs', x),
          () => w.splat('f32', Number.POSITIVE_INFINITY),
        ),
      ),
    keepsInt: false,
    mask: true,
  },
};

export const binaryOps: Record<BinaryOp, BinarySpec> = {
  add: {
    wgsl: (a, b) => `(${a} + ${b})`,
    cpu: (a, b) => a + b,
    wasm: (w, a, b, t) => (t === 'f32' ? w.f('add', a, b) : w.i('add', a, b)),
    keepsInt: true,
  },
  sub: {
    wgsl: (a, b) => `(${a} - ${b})`,
    cpu: (a, b) => a - b,
    wasm: (w, a, b, t) => (t === 'f32' ? w.f('sub', a, b) : w.i('sub', a, b)),
    keepsInt: true,
  },
  mul: {
    wgsl: (a, b) => `(${a} * ${b})`,
    cpu: (a, b) => a * b,
    wasm: (w, a, b, t) => (t === 'f32' ? w.f('mul', a, b) : w.i('mul', a, b)),
    keepsInt: true,
  },
  div: { wgsl: (a, b) => `(${a} / ${b})`, cpu: (a, b) => a / b, wasm: (w, a, b) => w.f('div', a, b), keepsInt: false },
  pow: {
    wgsl: (a, b) => `wgru_pow(${a}, ${b})`,
    cpu: Math.pow,
    wasm: (w, a, b) => w.lib('pow', a, b),
    keepsInt: false,
  },
  maximum: {
    wgsl: (a, b, t) => (t === 'f32' ? `wgru_max(${a}, ${b})` : `max(${a}, ${b})`),
    cpu: Math.max,
    wasm: (w, a, b, t) => (t === 'f32' ? w.f('max', a, b) : w.i('max_s', a, b)),
    keepsInt: true,
  },
  minimum: {
    wgsl: (a, b, t) => (t === 'f32' ? `wgru_min(${a}, ${b})` : `min(${a}, ${b})`),
    cpu: Math.min,
    wasm: (w, a, b, t) => (t === 'f32' ? w.f('min', a, b) : w.i('min_s', a, b)),
    keepsInt: true,
  },
  equal: {
    wgsl: compare('eq'),
    wasm: compareWasm('eq', 'eq'),
    cpu: (a, b) => bool(a === b),
    keepsInt: true,
    mask: true,
  },
  notEqual: {
    wgsl: compare('ne'),
    wasm: compareWasm('ne', 'ne'),
    cpu: (a, b) => bool(a !== b),
    keepsInt: true,
    mask: true,
  },
  less: {
    wgsl: compare('lt'),
    wasm: compareWasm('lt', 'lt_s'),
    cpu: (a, b) => bool(a < b),
    keepsInt: true,
    mask: true,
  },
  lessEqual: {
    wgsl: compare('le'),
    wasm: compareWasm('le', 'le_s'),
    cpu: (a, b) => bool(a <= b),
    keepsInt: true,
    mask: true,
  },
  greater: {
    wgsl: compare('gt'),
    wasm: compareWasm('gt', 'gt_s'),
    cpu: (a, b) => bool(a > b),
    keepsInt: true,
    mask: true,
  },
  greaterEqual: {
    wgsl: compare('ge'),
    wasm: compareWasm('ge', 'ge_s'),
    cpu: (a, b) => bool(a >= b),
    keepsInt: true,
    mask: true,
  },
};
