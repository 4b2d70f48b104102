import type { ReduceOp, View } from '../../backend.js';
import { WGSL_PRELUDE } from '../../ops/table.js';
import { decompose, ENTRY_1D, linearIndex, P, Params, paramsDecl, wgslType } from './common.js';

/**
 * Reduction over a set of axes: one invocation per output element, walking the reduced elements
 * with its own strides. (The frontend merges adjacent axes first, so the common cases, such as
 * the last axis of a contiguous tensor, are a single strided loop.)
 */
export function reduceKernel(op: ReduceOp, x: View, axes: readonly number[], out: View): { key: string; code: string; params: Int32Array } {
  const keep = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const params = new Params();
  const nOut = keep.reduce((a, i) => a * (x.shape[i] as number), 1);
  const nRed = axes.reduce((a, i) => a * (x.shape[i] as number), 1);
  params.push(nOut, nRed, x.offset, out.offset);
  const keptShapeAt = params.push(...keep.map((i) => x.shape[i] as number));
  const keptStridesAt = params.push(...keep.map((i) => x.strides[i] as number));
  const redShapeAt = params.push(...axes.map((i) => x.shape[i] as number));
  const redStridesAt = params.push(...axes.map((i) => x.strides[i] as number));
  const rk = keep.length;
  const rr = axes.length;
  const T = wgslType(x.dtype);
  const outT = wgslType(out.dtype);
  const isArg = op === 'argmax' || op === 'argmin';
  const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
  const zero = T === 'f32' ? '0.0' : '0';
  const one = T === 'f32' ? '1.0' : '1';
  const isnan = (v: string) => (T === 'f32' ? `wgru_isnan(${v})` : 'false');

  let base = P(2);
  for (let d = 0; d < rk; d++) base += ` + c${d} * ${P(keptStridesAt + d)}`;
  // offset of reduced element r
  const redDecomp = rr <= 1 ? '' : decompose('r', rr, redShapeAt, 'q');
  let redOff = rr === 0 ? '0' : rr === 1 ? `r * ${P(redStridesAt)}` : '';
  if (rr > 1) {
    const t: string[] = [];
    for (let d = 0; d < rr; d++) t.push(`q${d} * ${P(redStridesAt + d)}`);
    redOff = t.join(' + ');
  }

  let init: string;
  let step: string;
  let result: string;
  switch (op) {
    case 'sum':
      init = `var acc: ${T} = ${zero};`;
      step = 'acc = acc + v;';
      result = 'acc';
      break;
    case 'prod':
      init = `var acc: ${T} = ${one};`;
      step = 'acc = acc * v;';
      result = 'acc';
      break;
    default:
      // NaN wins (and arg* points at the first NaN), as in NumPy.
      init = `var acc: ${T} = x[base]; var best: i32 = 0; var nan = false;`;
      step = `if (!nan) { if (${isnan('v')}) { nan = true; best = r; acc = v; } else if (v ${cmp} acc) { acc = v; best = r; } }`;
      result = isArg ? 'best' : 'acc';
  }
  const code = `${WGSL_PRELUDE}
${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> o: array<${outT}>;
@group(0) @binding(2) var<storage, read> x: array<${T}>;
${ENTRY_1D()} {
  ${linearIndex()}
  if (k >= ${P(0)}) { return; }
  ${decompose('k', rk, keptShapeAt)}
  let base = ${base};
  ${init}
  for (var r = 0; r < ${P(1)}; r = r + 1) {
    ${redDecomp}
    let v = x[base + ${redOff}];
    ${step}
  }
  o[${P(3)} + k] = ${outT}(${result});
}`;
  return { key: `reduce|${op}|${T}|${outT}|${rk}|${rr}`, code, params: params.toArray() };
}
