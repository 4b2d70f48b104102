import { type View, viewIsContiguous } from '../../backend.js';
import type { DType } from '../../dtype.js';
import { type Expr, exprConsts, exprKey } from '../../expr.js';
import { binaryOps, unaryOps, WGSL_PRELUDE } from '../../ops/table.js';
import { decompose, ENTRY_1D, linearIndex, offsetExpr, P, Params, paramsDecl, wgslType } from './common.js';

/**
 * The elementwise kernel generator: one WGSL kernel per expression structure, rank and layout.
 * out[i] = expr(x0[i], x1[i], ...), each operand read through its own strides (0 on broadcast
 * axes), so broadcasting and non-contiguous views cost no copies. Contiguous operands skip the
 * index arithmetic.
 */
export interface MapKernel {
  key: string;
  code: string;
  params: Int32Array;
}

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

/**
 * Generates the kernel for `expr` over `inputs` into `out`. `bindingOf[j]` is the storage
 * binding (1-based after the output) input j reads from, so one buffer used twice is bound once.
 */
export function mapKernel(expr: Expr, inputs: readonly View[], out: View, bindingOf: readonly number[], bindingTypes: readonly DType[]): MapKernel {
  const rank = out.shape.length;
  const n = out.shape.reduce((a, b) => a * b, 1);
  const outContig = viewIsContiguous(out);
  const contig = inputs.map((v) => viewIsContiguous(v) && v.shape.every((d, i) => d === out.shape[i]));

  const params = new Params();
  params.push(n);
  const shapeAt = params.push(...out.shape);
  const outOffAt = params.push(out.offset);
  const outStridesAt = params.push(...out.strides);
  const inAt = inputs.map((v) => {
    const off = params.push(v.offset);
    params.push(...v.strides);
    return off;
  });
  const consts = exprConsts(expr);
  const constStart = params.words.length;
  // Constants are parameters (so kernels are shared across values), typed by their node.
  for (let i = 0; i < consts.length; i++) params.push(0);
  writeConsts(expr, params, constStart);

  const needCoords = !outContig || contig.some((c) => !c);
  const outIndex = outContig ? `${P(outOffAt)} + k` : offsetExpr(rank, outOffAt, outStridesAt);
  const loads = inputs.map((_, j) => {
    const idx = contig[j] ? `${P(inAt[j] as number)} + k` : offsetExpr(rank, inAt[j] as number, (inAt[j] as number) + 1);
    return `let x${j} = b${bindingOf[j]}[${idx}];`;
  });
  const body = wgslOf(expr, (i) => `x${i}`, { next: constStart });
  const outT = wgslType(out.dtype);
  const decls = [paramsDecl(params.words.length), `@group(0) @binding(1) var<storage, read_write> b1: array<${outT}>;`];
  bindingTypes.forEach((t, i) => {
    if (i === 0) return;
    decls.push(`@group(0) @binding(${i + 1}) var<storage, read> b${i + 1}: array<${wgslType(t)}>;`);
  });
  const code = `${WGSL_PRELUDE}
${decls.join('\n')}
${ENTRY_1D()} {
  ${linearIndex()}
  if (k >= ${P(0)}) { return; }
  ${needCoords ? decompose('k', rank, shapeAt) : ''}
  ${loads.join('\n  ')}
  b1[${outIndex}] = ${body};
}`;
  const key = `map|${exprKey(expr)}|r${rank}|o${outContig ? 'c' : 's'}${outT}|${contig.map((c) => (c ? 'c' : 's')).join('')}|${bindingOf.join(',')}|${bindingTypes.join(',')}|${params.words.length}`;
  return { key, code, params: params.toArray() };
}

export function writeConsts(expr: Expr, params: Params, start: number): void {
  let i = start;
  const walk = (e: Expr): void => {
    switch (e.kind) {
      case 'const':
        if (e.dtype === 'int32') params.words[i] = e.value | 0;
        else params.words[i] = new Int32Array(new Float32Array([e.value]).buffer)[0] as number;
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
