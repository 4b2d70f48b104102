import type { Expr } from '../../expr.js';
import { binaryOps, unaryOps } from '../../ops/table.js';
import { P, type Params, wgslType } from './common.js';

/**
 * WGSL for elementwise expressions: `wgslOf` turns an expression tree into one WGSL expression
 * over named operands, and `writeConsts` lays its constants out as kernel parameters. The fusion
 * pass (../fusion.ts) builds every elementwise kernel from these.
 */
export function wgslOf(e: Expr, inputVar: (i: number) => string, constAt: { next: number }): string {
  switch (e.kind) {
    case 'input':
      return inputVar(e.index);
    case 'const': {
      const at = constAt.next++;
      return e.dtype === 'int32' ? P(at) : `bitcast<f32>(${P(at)})`;
    }
    case 'unary':
      return unaryOps[e.op].wgsl(wgslOf(e.a, inputVar, constAt), wgslType(e.a.dtype));
    case 'binary':
      return binaryOps[e.op].wgsl(wgslOf(e.a, inputVar, constAt), wgslOf(e.b, inputVar, constAt), wgslType(e.a.dtype));
    case 'where': {
      const c = wgslOf(e.cond, inputVar, constAt);
      const a = wgslOf(e.a, inputVar, constAt);
      const b = wgslOf(e.b, inputVar, constAt);
      // A condition is true where nonzero; NaN counts as true (wgru_truthy tests its bits).
      return `select(${b}, ${a}, ${e.cond.dtype === 'int32' ? `${c} != 0` : `wgru_truthy(${c})`})`;
    }
    case 'cast': {
      const a = wgslOf(e.a, inputVar, constAt);
      const from = wgslType(e.a.dtype);
      const to = wgslType(e.dtype);
      if (from === to) return a;
      // f32 -> i32: WGSL truncates toward zero and saturates; NaN becomes 0 as on the CPU.
      return to === 'i32' ? `wgru_to_i32(${a})` : `f32(${a})`;
    }
  }
}

export function writeConsts(expr: Expr, params: Params, start: number): void {
  let i = start;
  const walk = (e: Expr): void => {
    switch (e.kind) {
      case 'const':
        if (e.dtype === 'int32') params.words[i] = e.value | 0;
        else params.words[i] = new Int32Array(new Float32Array([e.value]).buffer)[0];
        i++;
        break;
      case 'unary':
      case 'cast':
        walk(e.a);
        break;
      case 'binary':
        walk(e.a);
        walk(e.b);
        break;
      case 'where':
        walk(e.cond);
        walk(e.a);
        walk(e.b);
        break;
      case 'input':
        break;
    }
  };
  walk(expr);
}
