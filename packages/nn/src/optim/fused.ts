/**
 * Fused elementwise updates for the optimizers: one formula over a few tensors becomes ONE kernel
 * (one WGSL dispatch on WebGPU, one loop on the CPU) instead of a chain of raw ops, each writing
 * a full-size temporary. An Adam step is then four kernels per parameter (three formulas and the
 * in-place write), not about fifteen.
 *
 * @example
 * ```ts
 * const m = tensor([0, 1, 2]);
 * const g = tensor([1, 1, 1]);
 * // m ← β1·m + (1 − β1)·g, as a single kernel:
 * const next = fuse('Adam.m', [m, g], (mt, gt) => mt.mul(0.9).add(gt.mul(0.1)));
 * await next.data();   // Float32Array [0.1, 1, 1.9]
 * ```
 * @module
 */
import { binaryExpr, type BinaryOp, type DType, elementwise, type Expr, type Tensor, unaryExpr } from '@wgru/tensor';

/**
 * A node of a fused expression. Numbers are constants of the node's float dtype (float64 beside
 * float64 tensors, else float32); they are kernel parameters, so a new learning rate or step
 * count compiles nothing new.
 */
export class Term {
  constructor(readonly expr: Expr) {}

  add(b: Term | number): Term {
    return this.#binary('add', b);
  }
  sub(b: Term | number): Term {
    return this.#binary('sub', b);
  }
  mul(b: Term | number): Term {
    return this.#binary('mul', b);
  }
  div(b: Term | number): Term {
    return this.#binary('div', b);
  }
  maximum(b: Term | number): Term {
    return this.#binary('maximum', b);
  }
  minimum(b: Term | number): Term {
    return this.#binary('minimum', b);
  }
  sqrt(): Term {
    return new Term(unaryExpr('sqrt', this.expr));
  }

  #binary(op: BinaryOp, b: Term | number): Term {
    const dtype: DType = this.expr.dtype === 'float64' ? 'float64' : 'float32';
    const other = typeof b === 'number' ? ({ kind: 'const', value: b, dtype } as const) : b.expr;
    return new Term(binaryExpr(op, this.expr, other));
  }
}

/** One Term per tensor operand. */
type Terms<T extends readonly Tensor[]> = { [K in keyof T]: Term };

/**
 * Evaluates `formula` elementwise over `operands` (broadcast together) as one kernel and returns
 * the result as a new tensor. `op` names the kernel in error messages.
 */
export function fuse<T extends readonly Tensor[]>(
  op: string,
  operands: readonly [...T],
  formula: (...terms: Terms<T>) => Term,
): Tensor {
  return elementwise(op, operands, (leaves) => formula(...(leaves.map((e) => new Term(e)) as Terms<T>)).expr);
}
