import type { ReduceOp, View } from '../../backend.js';
import { WGSL_PRELUDE } from './prelude.js';
import { decompose, ENTRY_1D, linearIndex, P, Params, paramsDecl, wgslType } from './common.js';

/** Where output k's elements are: its base offset and the offset of its reduced element r. */
function reduceGeometry(x: View, axes: readonly number[], out: View) {
  const keep = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const params = new Params();
  const nOut = keep.reduce((a, i) => a * x.shape[i], 1);
  const nRed = axes.reduce((a, i) => a * x.shape[i], 1);
  params.push(nOut, nRed, x.offset, out.offset);
  const keptShapeAt = params.push(...keep.map((i) => x.shape[i]));
  const keptStridesAt = params.push(...keep.map((i) => x.strides[i]));
  const redShapeAt = params.push(...axes.map((i) => x.shape[i]));
  const redStridesAt = params.push(...axes.map((i) => x.strides[i]));
  const rk = keep.length;
  const rr = axes.length;
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
  return { params, nOut, nRed, keptShapeAt, rk, rr, base, redDecomp, redOff };
}

/**
 * Reduction over a set of axes, one invocation per output element walking the reduced elements
 * with its own strides. (The frontend merges adjacent axes first, so the common cases, such as
 * the last axis of a contiguous tensor, are a single strided loop.)
 */
export function reduceKernel(
  op: ReduceOp,
  x: View,
  axes: readonly number[],
  out: View,
): { key: string; code: string; params: Int32Array; n: number } {
  const g = reduceGeometry(x, axes, out);
  const { params, keptShapeAt, rk, rr, base, redDecomp, redOff } = g;
  const T = wgslType(x.dtype);
  const outT = wgslType(out.dtype);
  const isArg = op === 'argmax' || op === 'argmin';
  const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
  const zero = T === 'f32' ? '0.0' : '0';
  const one = T === 'f32' ? '1.0' : '1';
  const isnan = (v: string) => (T === 'f32' ? `wgru_isnan(${v})` : 'false');

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
      step =
        `if (!nan) { if (${isnan('v')}) { nan = true; best = r; acc = v; } ` +
        `else if (v ${cmp} acc) { acc = v; best = r; } }`;
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
  const key = `reduce|${op}|${T}|${outT}|${rk}|${rr}`;
  reduceTuning.onKernel?.(key);
  return { key, code, params: params.toArray(), n: g.nOut };
}

/** Which reduction kernel runs (module state, for tests and benchmarks). */
export const reduceTuning: {
  path: 'auto' | 'lane' | 'workgroup';
  /** Called with the key of every reduction kernel recorded (tests look at the choice). */
  onKernel: ((key: string) => void) | null;
} = { path: 'auto', onKernel: null };

/** Lanes of the workgroup that shares one output's reduction. */
const RWG = 64;
/** The kernel's extra parameters where subgroup operations are used. */
const SUBGROUP_BUILTINS = ',\n  @builtin(subgroup_invocation_id) sgLane: u32,\n  @builtin(subgroup_size) sgSize: u32';

/**
 * Whether a workgroup of lanes should share each output's reduction: only when there are few
 * outputs and many elements each (a sum over a whole gradient, a loss over all tokens), where one
 * lane per output would leave the device idle. Measured on llvmpipe (median of 5 x 20 runs):
 * a sum of 200,000 elements takes 1.42 ms in one lane, 0.28 ms in a workgroup; but the last axis
 * of [2048, 128] takes 0.56 ms with a lane per row and 2.7 ms with a workgroup per row (its
 * barriers cost more than they save when each lane has two elements).
 */
export function reduceByWorkgroup(x: View, axes: readonly number[]): boolean {
  if (reduceTuning.path !== 'auto') return reduceTuning.path === 'workgroup';
  const nRed = axes.reduce((a, i) => a * x.shape[i], 1);
  const nOut = x.shape.reduce((a, d) => a * d, 1) / Math.max(nRed, 1);
  return nOut <= 64 && nRed >= 1024;
}

/**
 * Reduction with one workgroup per output: lane l folds reduced elements l, l + 64, ..., then the
 * lanes' partial results are combined. With `subgroups`, first within each subgroup by shuffles
 * (a butterfly: every lane ends with its subgroup's result), then one value per subgroup through
 * workgroup memory; without, by a tree in workgroup memory (log2 64 = 6 barriers).
 *
 * A partial result is (value, index, state): state 0 = no element yet, 1 = a value, 2 = a NaN.
 * Combining keeps NaN over numbers and, among equals, the smaller index: the same answer as one
 * lane walking the elements in order (first NaN, first extremum), whatever the combining order.
 */
export function reduceWorkgroupKernel(
  op: ReduceOp,
  x: View,
  axes: readonly number[],
  out: View,
  subgroups: boolean,
): { key: string; code: string; params: Int32Array; n: number } {
  const g = reduceGeometry(x, axes, out);
  const T = wgslType(x.dtype);
  const outT = wgslType(out.dtype);
  const isArg = op === 'argmax' || op === 'argmin';
  const pick = op !== 'sum' && op !== 'prod';
  const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
  const isnan = (v: string) => (T === 'f32' ? `wgru_isnan(${v})` : 'false');
  const identity = op === 'prod' ? (T === 'f32' ? '1.0' : '1') : T === 'f32' ? '0.0' : '0';
  // combine(a, b): b's elements all come after a's only within one lane, so ties go by index.
  const combine = pick
    ? `fn combine(a: Part, b: Part) -> Part {
  if (a.state == 0) { return b; }
  if (b.state == 0) { return a; }
  if (a.state == 2 || b.state == 2) {
    if (a.state != 2) { return b; }
    if (b.state != 2) { return a; }
    if (a.index < b.index) { return a; }
    return b;
  }
  if (b.value ${cmp} a.value || (b.value == a.value && b.index < a.index)) { return b; }
  return a;
}`
    : `fn combine(a: Part, b: Part) -> Part { return Part(a.value ${op === 'sum' ? '+' : '*'} b.value, 0, 1); }`;
  const shuffle = (v: string, m: string) =>
    `Part(subgroupShuffleXor(${v}.value, ${m}), subgroupShuffleXor(${v}.index, ${m}), ` +
    `subgroupShuffleXor(${v}.state, ${m}))`;
  const code = `${subgroups ? 'enable subgroups;\n' : ''}${WGSL_PRELUDE}
${paramsDecl(g.params.words.length)}
@group(0) @binding(1) var<storage, read_write> o: array<${outT}>;
@group(0) @binding(2) var<storage, read> x: array<${T}>;
struct Part { value: ${T}, index: i32, state: i32 }
var<workgroup> parts: array<Part, ${RWG}>;
${combine}
@compute @workgroup_size(${RWG})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>${subgroups ? SUBGROUP_BUILTINS : ''}
) {
  let k = i32(wid.x + wid.y * nwg.x);
  if (k >= ${P(0)}) { return; }
  ${decompose('k', g.rk, g.keptShapeAt)}
  let base = ${g.base};
  var mine = Part(${identity}, 0, ${pick ? '0' : '1'});
  for (var r = i32(lid.x); r < ${P(1)}; r = r + ${RWG}) {
    ${g.redDecomp}
    let v = x[base + ${g.redOff}];
    mine = combine(mine, Part(v, r, ${pick ? `select(1, 2, ${isnan('v')})` : '1'}));
  }
${
  subgroups
    ? `  // Within the subgroup: after log2(size) exchanges every lane holds the subgroup's result.
  for (var m = 1u; m < sgSize; m = m * 2u) { mine = combine(mine, ${shuffle('mine', 'm')}); }
  // One value per subgroup (its lane 0) into workgroup memory; the rest add nothing.
  parts[lid.x] = Part(${identity}, 0, ${pick ? '0' : '1'});
  if (sgLane == 0u) { parts[lid.x] = mine; }
  workgroupBarrier();
  if (lid.x == 0u) {
    var all = parts[0];
    for (var i = 1u; i < ${RWG}u; i = i + 1u) { all = combine(all, parts[i]); }
    o[${P(3)} + k] = ${outT}(all.${isArg ? 'index' : 'value'});
  }`
    : `  parts[lid.x] = mine;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s / 2u) {
    if (lid.x < s) { parts[lid.x] = combine(parts[lid.x], parts[lid.x + s]); }
    workgroupBarrier();
  }
  if (lid.x == 0u) { o[${P(3)} + k] = ${outT}(parts[0].${isArg ? 'index' : 'value'}); }`
}
}`;
  const key = `reduceWg|${op}|${T}|${outT}|${g.rk}|${g.rr}|${subgroups ? 'subgroups' : 'shared'}`;
  reduceTuning.onKernel?.(key);
  return { key, code, params: g.params.toArray(), n: g.nOut };
}
