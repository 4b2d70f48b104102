import type { Backend, View } from '../backend.js';
import { assertDType, type DType, isFloat, promote, type Shape } from '../dtype.js';
import { type Expr, inputLeaf } from '../expr.js';
import { broadcastShapes, shapeString } from '../shape.js';
import { forgetHostValues, Tensor } from '../tensor.js';
import { backendOf, broadcastView, checkTensor, empty, isContiguous } from './core.js';
import { type BinaryOp, binaryOps, type UnaryOp, unaryOps } from './table.js';

/** A tensor or a plain number (a scalar that broadcasts). */
export type TensorLike = Tensor | number;

const input = inputLeaf;
const castTo = (e: Expr, dtype: DType): Expr => (e.dtype === dtype ? e : { kind: 'cast', a: e, dtype });

/**
 * Runs an elementwise expression over tensor operands broadcast together (numbers are folded
 * into the expression as constants, so `add(x, 1)` uploads nothing).
 */
export function elementwise(op: string, operands: readonly TensorLike[], build: (leaves: Expr[]) => Expr): Tensor {
  const tensors: Tensor[] = [];
  const leaves: Expr[] = [];
  for (let i = 0; i < operands.length; i++) {
    const x = operands[i] as TensorLike;
    if (typeof x === 'number') leaves.push({ kind: 'const', value: x, dtype: scalarDType(x, operands) });
    else {
      checkTensor(op, `operand ${i}`, x);
      leaves.push(input(tensors.length, x.dtype));
      tensors.push(x);
    }
  }
  return run(op, backendOf(op, ...operands), tensors, build(leaves));
}

/** Runs `expr` over `tensors` (checked, on `backend`) broadcast together, into a new tensor. */
function run(op: string, backend: Backend, tensors: readonly Tensor[], expr: Expr): Tensor {
  // Operands of one shape (the common case) give theirs to the result, frozen and shared, with
  // their views as they are: no broadcast arrays.
  const first = tensors[0];
  let same = first !== undefined;
  for (let i = 1; same && i < tensors.length; i++)
    same = sameShape((tensors[i] as Tensor).shape, (first as Tensor).shape);
  const shape = same ? (first as Tensor).shape : broadcastShapes(op, ...tensors.map(shapeOf));
  const strides = same && rowMajor(first as Tensor) ? (first as Tensor).strides : undefined;
  const out = empty(backend, shape, expr.dtype, op, strides);
  const views: View[] = [];
  for (const t of tensors) views.push(same ? t.view : broadcastView(t, shape));
  backend.map(expr, views, out.view);
  return out;
}

const shapeOf = (t: Tensor): Shape => t.shape;

/** Whether `t`'s strides are exactly the row-major ones of its shape (then a result may share them). */
function rowMajor(t: Tensor): boolean {
  let s = 1;
  for (let i = t.rank - 1; i >= 0; i--) {
    if (t.strides[i] !== s) return false;
    s *= t.shape[i] as number;
  }
  return true;
}

function sameShape(a: Shape, b: Shape): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A number's dtype beside tensor operands: int32 only if it is an integer and the tensors are int32. */
function scalarDType(x: number, operands: readonly TensorLike[]): DType {
  const ts = operands.filter((o): o is Tensor => o instanceof Tensor);
  if (ts.some((t) => t.dtype === 'float64')) return 'float64';
  if (Number.isInteger(x) && ts.length > 0 && ts.every((t) => t.dtype === 'int32')) return 'int32';
  return 'float32';
}

/** The expression node of a unary primitive, with the dtype rules applied. */
export function unaryExpr(op: UnaryOp, a: Expr): Expr {
  const spec = unaryOps[op];
  const x = !spec.keepsInt && a.dtype === 'int32' ? castTo(a, 'float32') : a;
  return { kind: 'unary', op, a: x, dtype: spec.mask ? (x.dtype === 'float64' ? 'float64' : 'float32') : x.dtype };
}

/** The expression node of a binary primitive: operands promoted to a common dtype first. */
export function binaryExpr(op: BinaryOp, a: Expr, b: Expr): Expr {
  const spec = binaryOps[op];
  let t = promote(a.dtype, b.dtype);
  if (!spec.keepsInt && t === 'int32') t = 'float32';
  const x = castTo(a, t);
  const y = castTo(b, t);
  const outType: DType = spec.mask ? (t === 'float64' ? 'float64' : 'float32') : t;
  return { kind: 'binary', op, a: x, b: y, dtype: outType };
}

/*
 * The expression of a unary or binary op over tensors depends only on the op and the dtypes: one
 * object per combination, made once, lets the backends find their compiled kernel by the object
 * (wasm/elementwise.ts) instead of a structural key built per call. Likewise for a tensor and a
 * number, per number (nonzero: a Map does not tell 0 from -0), in a table cleared when it grows.
 */
const DTYPE_CODE: Record<DType, number> = { float32: 0, int32: 1, float64: 2 };
const opExprs = new Map<string, Map<number, Expr>>();
const scalarExprs = new Map<string, Map<number, Map<number, Expr>>>();
const SCALAR_TABLE_MAX = 256;

function exprsOf<V>(table: Map<string, Map<number, V>>, op: string): Map<number, V> {
  let m = table.get(op);
  if (m === undefined) {
    m = new Map();
    table.set(op, m);
  }
  return m;
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  checkTensor(op, 'x', x);
  const byDType = exprsOf(opExprs, op);
  let expr = byDType.get(DTYPE_CODE[x.dtype]);
  if (expr === undefined) {
    expr = unaryExpr(op, input(0, x.dtype));
    byDType.set(DTYPE_CODE[x.dtype], expr);
  }
  return run(op, backendOf(op, x), [x], expr);
}

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a Tensor`);
  if (typeof a === 'number' || typeof b === 'number') return binaryScalar(op, a, b);
  checkTensor(op, 'operand 0', a);
  checkTensor(op, 'operand 1', b);
  const byDTypes = exprsOf(opExprs, op);
  const code = 3 * DTYPE_CODE[a.dtype] + DTYPE_CODE[b.dtype];
  let expr = byDTypes.get(code);
  if (expr === undefined) {
    expr = binaryExpr(op, input(0, a.dtype), input(1, b.dtype));
    byDTypes.set(code, expr);
  }
  return run(op, backendOf(op, a, b), [a, b], expr);
}

/** A binary op with one number operand. */
function binaryScalar(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const numberFirst = typeof a === 'number';
  const t = numberFirst ? b : a;
  checkTensor(op, `operand ${numberFirst ? 1 : 0}`, t);
  const value = (numberFirst ? a : b) as number;
  const c = scalarDType(value, [t]);
  const byValue = exprsOf(scalarExprs, op);
  const code = 18 * DTYPE_CODE[t.dtype] + 6 * DTYPE_CODE[c] + (numberFirst ? 1 : 0);
  let exprs = byValue.get(code);
  if (exprs === undefined || exprs.size >= SCALAR_TABLE_MAX) {
    exprs = new Map();
    byValue.set(code, exprs);
  }
  let expr = value === 0 ? undefined : exprs.get(value);
  if (expr === undefined) {
    const leaf: Expr = { kind: 'const', value, dtype: c };
    const x = input(0, t.dtype);
    expr = numberFirst ? binaryExpr(op, leaf, x) : binaryExpr(op, x, leaf);
    if (value !== 0) exprs.set(value, expr);
  }
  return run(op, backendOf(op, t), [t], expr);
}

/**
 * −x. The unary ops below work alike: one tensor in, one of the same shape out (float ops on an
 * int32 tensor give float32).
 *
 * @example
 * ```ts
 * const x = tensor([-1, 0, 2]);
 * await neg(x).data();       // Float32Array [1, -0, -2]
 * await sigmoid(x).data();   // Float32Array [0.269, 0.5, 0.881] (about)
 * await relu(x).data();      // Float32Array [0, 0, 2]
 * ```
 */
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const sign = (x: Tensor): Tensor => unary('sign', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
export const floor = (x: Tensor): Tensor => unary('floor', x);
export const ceil = (x: Tensor): Tensor => unary('ceil', x);
export const round = (x: Tensor): Tensor => unary('round', x);
// biome-ignore lint/suspicious/noShadowRestrictedNames: the public op's name (shadows the global in this module only)
export const isNaN = (x: Tensor): Tensor => unary('isnan', x);
export const isInf = (x: Tensor): Tensor => unary('isinf', x);

/**
 * a + b with NumPy broadcasting; either side may be a number. The binary ops below work alike;
 * comparisons (`equal`, `less`, ...) give float32 0/1 masks.
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * await add(x, tensor([10, 20, 30])).data();   // Float32Array [11, 22, 33, 14, 25, 36]
 * await mul(x, 2).data();                      // Float32Array [2, 4, 6, 8, 10, 12]
 * await greater(x, 3).data();                  // Float32Array [0, 0, 0, 1, 1, 1]
 * ```
 */
export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);
export const equal = (a: TensorLike, b: TensorLike): Tensor => binary('equal', a, b);
export const notEqual = (a: TensorLike, b: TensorLike): Tensor => binary('notEqual', a, b);
export const less = (a: TensorLike, b: TensorLike): Tensor => binary('less', a, b);
export const lessEqual = (a: TensorLike, b: TensorLike): Tensor => binary('lessEqual', a, b);
export const greater = (a: TensorLike, b: TensorLike): Tensor => binary('greater', a, b);
export const greaterEqual = (a: TensorLike, b: TensorLike): Tensor => binary('greaterEqual', a, b);

/** x * x. */
export const square = (x: Tensor): Tensor =>
  elementwise('square', [x], ([a]) => binaryExpr('mul', a as Expr, a as Expr));

/**
 * cond ? a : b elementwise; `cond` is a mask (nonzero = true), all three broadcast together.
 *
 * @example
 * ```ts
 * const x = tensor([-2, 1, 3]);
 * await where(greater(x, 0), x, 0).data();   // Float32Array [0, 1, 3]
 * ```
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor('where', 'cond', cond);
  return elementwise('where', [cond, a, b], ([c, x0, y0]) => {
    // A number takes its dtype from the other value, not from the mask: where(m, ints, 0) is int32.
    const x = numberBeside(x0 as Expr, y0 as Expr);
    const y = numberBeside(y0 as Expr, x0 as Expr);
    const t = promote(x.dtype, y.dtype);
    return { kind: 'where', cond: c as Expr, a: castTo(x, t), b: castTo(y, t), dtype: t };
  });
}

/** A number operand `e` retyped to the dtype of the tensor operand beside it (int32 only if integral). */
function numberBeside(e: Expr, other: Expr): Expr {
  if (e.kind !== 'const' || other.kind === 'const') return e;
  return { ...e, dtype: other.dtype === 'int32' && !Number.isInteger(e.value) ? 'float32' : other.dtype };
}

/**
 * Converts to `dtype` (float to int truncates toward zero; NaN becomes 0).
 *
 * @example
 * ```ts
 * await cast(tensor([1.9, -1.9]), 'int32').data();   // Int32Array [1, -1]
 * ```
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor('cast', 'x', x);
  assertDType('cast', 'dtype', dtype);
  return elementwise('cast', [x], ([a]) => castTo(a as Expr, dtype));
}

/** A contiguous copy. */
export function clone(x: Tensor): Tensor {
  checkTensor('clone', 'x', x);
  return elementwise('clone', [x], ([a]) => a as Expr);
}

/** x itself when already contiguous (a new handle on the same storage), else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  checkTensor('contiguous', 'x', x);
  return isContiguous(x) ? new Tensor(x.backend, x.storage, x.shape, x.dtype, undefined, x.offset) : clone(x);
}

/** x converted to `to`, one object per pair of dtypes (as `opExprs`). */
function copyExpr(from: DType, to: DType): Expr {
  const byDTypes = exprsOf(opExprs, 'assign');
  const code = 3 * DTYPE_CODE[from] + DTYPE_CODE[to];
  let e = byDTypes.get(code);
  if (e === undefined) {
    e = castTo(input(0, from), to);
    byDTypes.set(code, e);
  }
  return e;
}

/** target + source in target's dtype, one object per pair of dtypes. */
function addIntoExpr(target: DType, source: DType): Expr {
  const byDTypes = exprsOf(opExprs, 'addInto');
  const code = 3 * DTYPE_CODE[target] + DTYPE_CODE[source];
  let e = byDTypes.get(code);
  if (e === undefined) {
    e = castTo(binaryExpr('add', input(0, target), input(1, source)), target);
    byDTypes.set(code, e);
  }
  return e;
}

/**
 * Writes `source` (broadcast to target's shape, converted to its dtype) into `target` in place.
 * For optimizers and buffers outside the tape.
 */
export function assign(target: Tensor, source: TensorLike): void {
  checkTensor('assign', 'target', target);
  const backend = backendOf('assign', target, source);
  if (target.size > 0 && target.shape.some((d, i) => d > 1 && target.strides[i] === 0)) {
    throw new Error(
      `assign: target ${shapeString(target.shape)} is a broadcast view (several elements share one place in ` +
        `memory); assign to the tensor it was broadcast from`,
    );
  }
  forgetHostValues(target.storage);
  if (source instanceof Tensor) {
    const shape = broadcastShapes('assign', target.shape, source.shape);
    if (shape.length !== target.rank || shape.some((d, i) => d !== target.shape[i])) {
      throw new Error(
        `assign: source ${shapeString(source.shape)} does not broadcast to target ${shapeString(target.shape)}`,
      );
    }
    backend.map(copyExpr(source.dtype, target.dtype), [broadcastView(source, target.shape)], target.view);
  } else {
    backend.map({ kind: 'const', value: source, dtype: target.dtype }, [], target.view);
  }
}

/**
 * target += source in place (source broadcast to target's shape). `target` may be a view, such
 * as a slice of a larger gradient buffer: only its elements change.
 */
export function addInto(target: Tensor, source: TensorLike): void {
  checkTensor('addInto', 'target', target);
  const backend = backendOf('addInto', target, source);
  forgetHostValues(target.storage);
  if (source instanceof Tensor) {
    const shape = broadcastShapes('addInto', target.shape, source.shape);
    if (shape.length !== target.rank || shape.some((d, i) => d !== target.shape[i])) {
      throw new Error(
        `addInto: source ${shapeString(source.shape)} does not broadcast to target ${shapeString(target.shape)}`,
      );
    }
    backend.map(
      addIntoExpr(target.dtype, source.dtype),
      [target.view, broadcastView(source, target.shape)],
      target.view,
    );
  } else {
    const expr = binaryExpr('add', input(0, target.dtype), { kind: 'const', value: source, dtype: target.dtype });
    backend.map(castTo(expr, target.dtype), [target.view], target.view);
  }
}

/** A tensor of `shape` filled with `value` (a kernel, not an upload). */
export function fillOn(
  backend: ReturnType<typeof backendOf>,
  shape: Shape,
  value: number,
  dtype: DType,
  op: string,
): Tensor {
  const out = empty(backend, shape, dtype, op);
  backend.map({ kind: 'const', value, dtype }, [], out.view);
  return out;
}

export { isFloat };
