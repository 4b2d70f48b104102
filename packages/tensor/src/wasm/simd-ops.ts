/**
 * The vocabulary the op table's WebAssembly emitters speak (types only, so that the table does not
 * load binaryen). An emitter gets its operands as thunks: each call emits a fresh read of the
 * operand (a `local.get`), so an emitter may use an operand more than once. Every value is a
 * v128 of four f32 or four i32 lanes; the result is a binaryen expression reference.
 * @module
 */

/** An operand: emits a read of its value (any number of times). */
export type Operand = () => number;

/** f32x4 instructions (names as in binaryen's `module.f32x4`). */
export type F32Op =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'min'
  | 'max'
  | 'neg'
  | 'abs'
  | 'sqrt'
  | 'floor'
  | 'ceil'
  | 'nearest'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge';

/** i32x4 instructions (names as in binaryen's `module.i32x4`). */
export type I32Op =
  | 'add'
  | 'sub'
  | 'mul'
  | 'neg'
  | 'abs'
  | 'min_s'
  | 'max_s'
  | 'eq'
  | 'ne'
  | 'lt_s'
  | 'le_s'
  | 'gt_s'
  | 'ge_s';

/** Library functions of four lanes, compiled into the module on first use (wasm/library.ts). */
export type LibFn = 'exp' | 'log' | 'sigmoid' | 'tanh' | 'sin' | 'cos' | 'pow';

export interface SimdOps {
  f(op: F32Op, ...args: Operand[]): number;
  i(op: I32Op, ...args: Operand[]): number;
  /** A lane mask (all ones / zeros) as float 1.0 / 0.0. */
  mask(m: number): number;
  /** A constant in every lane. */
  splat(t: 'f32' | 'i32', value: number): number;
  /** `a` where the mask `m` is set, else `b`. */
  select(m: Operand, a: Operand, b: Operand): number;
  lib(fn: LibFn, ...args: Operand[]): number;
}
