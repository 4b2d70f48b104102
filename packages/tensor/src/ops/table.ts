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
  /** Whether int32 inputs stay int32 (neg, abs, ...); otherwise they are converted to float. */
  keepsInt: boolean;
  /** Whether the result is a float32 0/1 mask regardless of the input type. */
  mask?: boolean;
}

export interface BinarySpec {
  wgsl: (a: string, b: string, t: 'f32' | 'i32') => string;
  cpu: (a: number, b: number) => number;
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

export const unaryOps: Record<UnaryOp, UnarySpec> = {
  neg: { wgsl: (x) => `(-${x})`, cpu: (x) => -x, keepsInt: true },
  abs: { wgsl: (x) => `abs(${x})`, cpu: Math.abs, keepsInt: true },
  sign: {
    wgsl: (x, t) => (t === 'f32' ? `wgru_sign(${x})` : `sign(${x})`),
    cpu: (x) => (Number.isNaN(x) ? x : Math.sign(x) + 0),
    keepsInt: true,
  },
  exp: { wgsl: (x) => `exp(${x})`, cpu: Math.exp, keepsInt: false },
  log: { wgsl: (x) => `wgru_log(${x})`, cpu: Math.log, keepsInt: false },
  sqrt: { wgsl: (x) => `wgru_sqrt(${x})`, cpu: Math.sqrt, keepsInt: false },
  reciprocal: { wgsl: (x) => `(1.0 / ${x})`, cpu: (x) => 1 / x, keepsInt: false },
  sigmoid: {
    wgsl: (x) => `wgru_sigmoid(${x})`,
    cpu: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
    keepsInt: false,
  },
  tanh: { wgsl: (x) => `wgru_tanh(${x})`, cpu: Math.tanh, keepsInt: false },
  relu: {
    wgsl: (x, t) => (t === 'f32' ? `wgru_relu(${x})` : `max(${x}, 0)`),
    cpu: (x) => (x > 0 ? x : Number.isNaN(x) ? x : 0),
    keepsInt: true,
  },
  sin: { wgsl: (x) => `sin(${x})`, cpu: Math.sin, keepsInt: false },
  cos: { wgsl: (x) => `cos(${x})`, cpu: Math.cos, keepsInt: false },
  floor: { wgsl: (x) => `floor(${x})`, cpu: Math.floor, keepsInt: false },
  ceil: { wgsl: (x) => `ceil(${x})`, cpu: Math.ceil, keepsInt: false },
  // Round half to even, as NumPy and WGSL do.
  round: {
    wgsl: (x) => `round(${x})`,
    cpu: (x) => {
      const r = Math.round(x);
      return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
    },
    keepsInt: false,
  },
  isnan: { wgsl: (x) => `wgru_mask(wgru_isnan(${x}))`, cpu: (x) => bool(Number.isNaN(x)), keepsInt: false, mask: true },
  isinf: {
    wgsl: (x) => `wgru_mask(wgru_isinf(${x}))`,
    cpu: (x) => bool(Math.abs(x) === Number.POSITIVE_INFINITY),
    keepsInt: false,
    mask: true,
  },
};

export const binaryOps: Record<BinaryOp, BinarySpec> = {
  add: { wgsl: (a, b) => `(${a} + ${b})`, cpu: (a, b) => a + b, keepsInt: true },
  sub: { wgsl: (a, b) => `(${a} - ${b})`, cpu: (a, b) => a - b, keepsInt: true },
  mul: { wgsl: (a, b) => `(${a} * ${b})`, cpu: (a, b) => a * b, keepsInt: true },
  div: { wgsl: (a, b) => `(${a} / ${b})`, cpu: (a, b) => a / b, keepsInt: false },
  pow: { wgsl: (a, b) => `wgru_pow(${a}, ${b})`, cpu: Math.pow, keepsInt: false },
  maximum: {
    wgsl: (a, b, t) => (t === 'f32' ? `wgru_max(${a}, ${b})` : `max(${a}, ${b})`),
    cpu: Math.max,
    keepsInt: true,
  },
  minimum: {
    wgsl: (a, b, t) => (t === 'f32' ? `wgru_min(${a}, ${b})` : `min(${a}, ${b})`),
    cpu: Math.min,
    keepsInt: true,
  },
  equal: { wgsl: compare('eq'), cpu: (a, b) => bool(a === b), keepsInt: true, mask: true },
  notEqual: { wgsl: compare('ne'), cpu: (a, b) => bool(a !== b), keepsInt: true, mask: true },
  less: { wgsl: compare('lt'), cpu: (a, b) => bool(a < b), keepsInt: true, mask: true },
  lessEqual: { wgsl: compare('le'), cpu: (a, b) => bool(a <= b), keepsInt: true, mask: true },
  greater: { wgsl: compare('gt'), cpu: (a, b) => bool(a > b), keepsInt: true, mask: true },
  greaterEqual: { wgsl: compare('ge'), cpu: (a, b) => bool(a >= b), keepsInt: true, mask: true },
};
