import type { DType } from './dtype.js';
import type { BinaryOp, UnaryOp } from './ops/table.js';

/**
 * An elementwise computation over some input tensors, as a small expression tree. Every
 * elementwise op is one node over its inputs; a fusion pass can compose trees so that a chain of
 * elementwise ops becomes one generated kernel. Each node carries the dtype it produces.
 */
export type Expr =
  | { readonly kind: 'input'; readonly index: number; readonly dtype: DType }
  | { readonly kind: 'const'; readonly value: number; readonly dtype: DType }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly a: Expr; readonly dtype: DType }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr; readonly dtype: DType }
  | { readonly kind: 'where'; readonly cond: Expr; readonly a: Expr; readonly b: Expr; readonly dtype: DType }
  | { readonly kind: 'cast'; readonly a: Expr; readonly dtype: DType };

const leaves = (dtype: DType): Expr[] => Array.from({ length: 8 }, (_, index) => ({ kind: 'input', index, dtype }));
const LEAVES: Record<DType, Expr[]> = {
  float32: leaves('float32'),
  int32: leaves('int32'),
  float64: leaves('float64'),
};

/**
 * The leaf for input `index` of `dtype`: the same object every time (for the first 8), so that
 * expressions built once from them can be recognised by identity (wasm/elementwise.ts).
 */
export function inputLeaf(index: number, dtype: DType): Expr {
  return index < 8 ? (LEAVES[dtype][index] as Expr) : { kind: 'input', index, dtype };
}

/** A structural key for an expression (used to cache compiled kernels). */
export function exprKey(e: Expr): string {
  switch (e.kind) {
    case 'input':
      return `i${e.index}:${e.dtype}`;
    case 'const':
      return `c(${e.dtype})`; // constants are passed as parameters, not baked into kernels
    case 'unary':
      return `${e.op}(${exprKey(e.a)})`;
    case 'binary':
      return `${e.op}(${exprKey(e.a)},${exprKey(e.b)})`;
    case 'where':
      return `where(${exprKey(e.cond)},${exprKey(e.a)},${exprKey(e.b)})`;
    case 'cast':
      return `${e.dtype}(${exprKey(e.a)})`;
  }
}

/** The constants of an expression in a fixed (depth-first) order. */
export function exprConsts(e: Expr, out: number[] = []): number[] {
  switch (e.kind) {
    case 'const':
      out.push(e.value);
      break;
    case 'unary':
    case 'cast':
      exprConsts(e.a, out);
      break;
    case 'binary':
      exprConsts(e.a, out);
      exprConsts(e.b, out);
      break;
    case 'where':
      exprConsts(e.cond, out);
      exprConsts(e.a, out);
      exprConsts(e.b, out);
      break;
    case 'input':
      break;
  }
  return out;
}
