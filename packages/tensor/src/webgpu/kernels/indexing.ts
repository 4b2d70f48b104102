import type { View } from '../../backend.js';
import { decompose, ENTRY_1D, linearIndex, P, Params, paramsDecl, wgslType } from './common.js';

type Kernel = { key: string; code: string; params: Int32Array; n: number };

/** WGSL: `j` wrapped into [0, dim) when it is in [-dim, dim), else -1 (see Backend.gather). */
const WRAP_INDEX = /* wgsl */ `
fn wrap_index(j: i32, dim: i32) -> i32 {
  let w = select(j, j + dim, j < 0);
  return select(-1, w, w >= 0 && w < dim);
}`;

/**
 * numpy.take: out[pre, i..., post] = x[pre, indices[i...], post], one invocation per output.
 * Negative indices count from the end; out-of-range ones (possible only for indices computed on
 * the device, which the frontend cannot check) read 0 instead of another element.
 */
export function gatherKernel(x: View, indices: View, axis: number, out: View): Kernel {
  const ro = out.shape.length;
  const ri = indices.shape.length;
  const rx = x.shape.length;
  const n = out.shape.reduce((a, b) => a * b, 1);
  const params = new Params();
  params.push(n, x.offset, indices.offset, out.offset, x.shape[axis]);
  const shapeAt = params.push(...out.shape);
  const xsAt = params.push(...x.strides);
  const isAt = params.push(...indices.strides);
  const osAt = params.push(...out.strides);
  const T = wgslType(x.dtype);
  const idxTerms = [P(2)];
  for (let d = 0; d < ri; d++) idxTerms.push(`c${axis + d} * ${P(isAt + d)}`);
  const xTerms = [P(1), `j * ${P(xsAt + axis)}`];
  for (let d = 0; d < axis; d++) xTerms.push(`c${d} * ${P(xsAt + d)}`);
  for (let d = axis + 1; d < rx; d++) xTerms.push(`c${d - 1 + ri} * ${P(xsAt + d)}`);
  const oTerms = [P(3)];
  for (let d = 0; d < ro; d++) oTerms.push(`c${d} * ${P(osAt + d)}`);
  const code = `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> o: array<${T}>;
@group(0) @binding(2) var<storage, read> x: array<${T}>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;
${WRAP_INDEX}
${ENTRY_1D()} {
  ${linearIndex()}
  if (k >= ${P(0)}) { return; }
  ${decompose('k', ro, shapeAt)}
  let w = wrap_index(idx[${idxTerms.join(' + ')}], ${P(4)});
  let j = max(w, 0);
  o[${oTerms.join(' + ')}] = select(${T}(0), x[${xTerms.join(' + ')}], w >= 0);
}`;
  return { key: `gather|${T}|${ro}|${ri}|${axis}|${rx}`, code, params: params.toArray(), n };
}

/**
 * The adjoint of gather: out[pre, j, post] += sum of src[pre, i..., post] over the index
 * positions i with indices[i...] == j (negative indices wrapped; out-of-range ones match nothing).
 * WGSL has no float atomics, so each output element gathers its own sum by scanning the indices
 * (deterministic, and race-free by construction).
 */
export function scatterAddKernel(src: View, indices: View, axis: number, out: View): Kernel {
  const ro = out.shape.length;
  const ri = indices.shape.length;
  const nIdx = indices.shape.reduce((a, b) => a * b, 1);
  const n = out.shape.reduce((a, b) => a * b, 1);
  const params = new Params();
  params.push(n, nIdx, src.offset, indices.offset, out.offset, out.shape[axis]);
  const shapeAt = params.push(...out.shape);
  const osAt = params.push(...out.strides);
  const ssAt = params.push(...src.strides);
  const iShapeAt = params.push(...indices.shape);
  const isAt = params.push(...indices.strides);
  const T = wgslType(out.dtype);
  const oTerms = [P(4)];
  for (let d = 0; d < ro; d++) oTerms.push(`c${d} * ${P(osAt + d)}`);
  // src index = (pre..., i..., post...): pre = c0..c{axis-1}, post = c{axis+1}..
  const sBase = [P(2)];
  for (let d = 0; d < axis; d++) sBase.push(`c${d} * ${P(ssAt + d)}`);
  for (let d = axis + 1; d < ro; d++) sBase.push(`c${d} * ${P(ssAt + d - 1 + ri)}`);
  const iTerms = [P(3)];
  const sIdxTerms: string[] = [];
  for (let d = 0; d < ri; d++) {
    iTerms.push(`q${d} * ${P(isAt + d)}`);
    sIdxTerms.push(`q${d} * ${P(ssAt + axis + d)}`);
  }
  const code = `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> o: array<${T}>;
@group(0) @binding(2) var<storage, read> s: array<${T}>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;
${WRAP_INDEX}
${ENTRY_1D()} {
  ${linearIndex()}
  if (k >= ${P(0)}) { return; }
  ${decompose('k', ro, shapeAt)}
  let oOff = ${oTerms.join(' + ')};
  let sBase = ${sBase.join(' + ')};
  var acc = o[oOff];
  for (var i = 0; i < ${P(1)}; i = i + 1) {
    ${decompose('i', ri, iShapeAt, 'q')}
    if (wrap_index(idx[${iTerms.join(' + ')}], ${P(5)}) == c${axis}) {
      acc = acc + s[sBase${sIdxTerms.length ? ` + ${sIdxTerms.join(' + ')}` : ''}];
    }
  }
  o[oOff] = acc;
}`;
  return { key: `scatterAdd|${T}|${ro}|${ri}|${axis}`, code, params: params.toArray(), n };
}

const TM_ROWS = 8;
const ROWS_WG: [number, number] = [16, 4];

const div4 = (x: number): boolean => x % 4 === 0;
const contiguousFrom = (v: View): boolean => {
  let stride = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== stride) return false;
    stride *= v.shape[d];
  }
  return true;
};

/**
 * Whether scatterAddRowsKernel applies: rows along axis 0 (an embedding's gradient), everything
 * contiguous, rows a whole number of vec4s.
 */
export function scatterAddByRows(src: View, indices: View, axis: number, out: View): boolean {
  const D = out.shape.slice(1).reduce((a, b) => a * b, 1);
  return (
    axis === 0 &&
    D > 0 &&
    div4(D) &&
    div4(out.offset) &&
    div4(src.offset) &&
    contiguousFrom(out) &&
    contiguousFrom(src) &&
    contiguousFrom(indices)
  );
}

/**
 * scatterAdd along axis 0 in register tiles: out[j, :] += src[i, :] for every i with
 * indices[i] == j. Invocation (q, t) owns the four columns 4q..4q+3 of output rows 8t..8t+7 and
 * walks the indices once, in order (the same summation order as the CPU backend, so the result is
 * deterministic), loading a row of src only where the index falls in its rows. One index load
 * per step for 32 outputs, where the general kernel loads an index and a value per output per
 * step: for an embedding gradient (4,096 tokens into [128, 128]) 77 ms becomes 7 ms (llvmpipe).
 */
export function scatterAddRowsKernel(
  src: View,
  indices: View,
  out: View,
): Kernel & { workgroups: [number, number, number] } {
  const V = out.shape[0];
  const D = out.shape.slice(1).reduce((a, b) => a * b, 1);
  const nIdx = indices.shape.reduce((a, b) => a * b, 1);
  const params = new Params();
  params.push(V, D / 4, nIdx, out.offset / 4, src.offset / 4, indices.offset);
  const T = wgslType(out.dtype);
  const V4 = `vec4<${T}>`;
  const rows = Array.from({ length: TM_ROWS }, (_, i) => i);
  // each row's accumulator starts from the output's value (scatterAdd adds into out)
  const initial = (i: number) => `acc${i} = o[${P(3)} + (r0 + ${i}) * Dq + q];`;
  const code = `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> o: array<${V4}>;
@group(0) @binding(2) var<storage, read> s: array<${V4}>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;
${WRAP_INDEX}
@compute @workgroup_size(${ROWS_WG[0]}, ${ROWS_WG[1]})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let V = ${P(0)}; let Dq = ${P(1)};
  let q = i32(gid.x);
  let r0 = i32(gid.y) * ${TM_ROWS};
  if (q >= Dq || r0 >= V) { return; }
${rows.map((i) => `  var acc${i} = ${V4}();\n  if (r0 + ${i} < V) { ${initial(i)} }`).join('\n')}
  for (var k = 0; k < ${P(2)}; k = k + 1) {
    let j = wrap_index(idx[${P(5)} + k], V) - r0;
    if (j >= 0 && j < ${TM_ROWS}) {
      let g = s[${P(4)} + k * Dq + q];
${rows.map((i) => `      acc${i} = acc${i} + select(${V4}(), g, j == ${i});`).join('\n')}
    }
  }
${rows.map((i) => `  if (r0 + ${i} < V) { o[${P(3)} + (r0 + ${i}) * Dq + q] = acc${i}; }`).join('\n')}
}`;
  const workgroups: [number, number, number] = [
    Math.ceil(D / 4 / ROWS_WG[0]),
    Math.ceil(V / (TM_ROWS * ROWS_WG[1])),
    1,
  ];
  return { key: `scatterAddRows|${T}`, code, params: params.toArray(), n: V * D, workgroups };
}
