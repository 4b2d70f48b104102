import type { GruCellArgs, View } from '../../backend.js';
import { WGSL_PRELUDE } from './prelude.js';
import { P, Params, paramsDecl } from './common.js';

/**
 * The operands both cell kernels bind, in binding order (output first), and their parameters:
 * H and I, then per view its offset and two strides (1-D views: stride 0 for the row), at `at[i]`.
 */
function operands(a: GruCellArgs) {
  const B = a.h.shape[0];
  const H = a.h.shape[1];
  const I = a.W ? a.x.shape[1] : 0;
  const params = new Params();
  const views: View[] = [a.out, a.x, a.h, a.U];
  if (a.W) views.push(a.W);
  if (a.b) views.push(a.b);
  if (a.c) views.push(a.c);
  params.push(H, I);
  const at = views.map((v) =>
    params.push(v.offset, v.shape.length === 2 ? v.strides[0] : 0, v.strides[v.shape.length - 1]),
  );
  const name = ['o', 'x', 'h', 'U', ...(a.W ? ['W'] : []), ...(a.b ? ['bias'] : []), ...(a.c ? ['c'] : [])];
  return { B, H, params, views, at, name };
}

export interface GruCellKernel {
  key: string;
  code: string;
  params: Int32Array;
  views: View[];
  workgroups: [number, number, number];
}

/** Lanes per workgroup; one workgroup per batch row, each lane owning columns j, j+WG, ... */
const WG = 64;
/** The largest hidden size the kernel keeps r ⊙ h for in workgroup memory. */
export const GRU_CELL_MAX_HIDDEN = 1024;

/**
 * The GRU cell as ONE kernel (inference): workgroup b computes row b of h'. Phase 1: each lane
 * computes z_j and r_j for its columns (dot products of h_b with U's columns) and keeps r_j and
 * r_j h_j in workgroup memory; a barrier; phase 2: the candidate and the new state. U (and W) are
 * read once per row; nothing goes through device memory between the gates.
 *
 * `packed`: U (and W) as packed textures where the caller has them (packedWeights, in
 * packed-operands.ts), read with texel loads, which a software adapter makes for all lanes at once.
 */
export function gruCellKernel(
  a: GruCellArgs,
  packed: { U: GPUTextureView; W: GPUTextureView | null } | null = null,
): GruCellKernel {
  if (quadsFit(a)) return gruCellQuadKernel(a, packed);
  const { B, params, views, at, name } = operands(a);
  const idx = (i: number, row: string, col: string) =>
    `${P(at[i])} + (${row}) * ${P(at[i] + 1)} + (${col}) * ${P(at[i] + 2)}`;
  const bind = name.map(
    (n, i) => `@group(0) @binding(${i + 1}) var<storage, ${i === 0 ? 'read_write' : 'read'}> ${n}: array<f32>;`,
  );
  const vi = (n: string) => name.indexOf(n);
  // x_t W_g + b_g for gate column g (or the given projection)
  const xp = (g: string) => (a.W ? `xw(b, ${g})` : `x[${idx(vi('x'), 'b', g)}]`);
  // the recurrent bias of the candidate, added inside r ⊙ (...) (resetAfter)
  const cBias = a.c ? ` + c[${idx(vi('c'), '0', 'j')}]` : '';
  const code = `${WGSL_PRELUDE}
${paramsDecl(params.words.length)}
${bind.join('\n')}
var<workgroup> rs: array<f32, ${GRU_CELL_MAX_HIDDEN}>;
var<workgroup> rh: array<f32, ${GRU_CELL_MAX_HIDDEN}>;
var<workgroup> zs: array<f32, ${GRU_CELL_MAX_HIDDEN}>;
fn hu(b: i32, col: i32) -> f32 {
  var s = 0.0;
  for (var k = 0; k < ${P(0)}; k = k + 1) { s = s + h[${idx(vi('h'), 'b', 'k')}] * U[${idx(vi('U'), 'k', 'col')}]; }
  return s;
}
${
  a.W
    ? `fn xw(b: i32, col: i32) -> f32 {
  var s = ${a.b ? `bias[${idx(vi('bias'), '0', 'col')}]` : '0.0'};
  for (var i = 0; i < ${P(1)}; i = i + 1) { s = s + x[${idx(vi('x'), 'b', 'i')}] * W[${idx(vi('W'), 'i', 'col')}]; }
  return s;
}`
    : ''
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = i32(wid.x);
  let H = ${P(0)};
  // Phase 1: z_j = σ(x W_z + h U_z + b_z), r_j = σ(x W_r + h U_r + b_r)
  for (var j = i32(lid.x); j < H; j = j + ${WG}) {
    zs[j] = wgru_sigmoid(${xp('j')} + hu(b, j));
    let r = wgru_sigmoid(${xp('H + j')} + hu(b, H + j));
    rs[j] = r;
    rh[j] = r * h[${idx(vi('h'), 'b', 'j')}];
  }
  workgroupBarrier();
  // Phase 2: the candidate h̃ and h' = (1 − z) ⊙ h + z ⊙ h̃
  for (var j = i32(lid.x); j < H; j = j + ${WG}) {
    ${
      a.resetAfter
        ? `let cand = wgru_tanh(${xp('2 * H + j')} + rs[j] * (hu(b, 2 * H + j)${cBias}));`
        : `var s = 0.0;
    for (var k = 0; k < H; k = k + 1) { s = s + rh[k] * U[${idx(vi('U'), 'k', '2 * H + j')}]; }
    let cand = wgru_tanh(${xp('2 * H + j')} + s);`
    }
    let z = zs[j];
    let hj = h[${idx(vi('h'), 'b', 'j')}];
    o[${idx(0, 'b', 'j')}] = (1.0 - z) * hj + z * cand;
  }
}`;
  const key = `gruCell|${a.resetAfter}|${name.join(',')}|${params.words.length}`;
  return { key, code, params: params.toArray(), views, workgroups: [B, 1, 1] };
}

/**
 * Lanes per workgroup of the quad kernel, each owning four adjacent columns of every gate: small
 * groups when the columns are split over workgroups (H = 256 is then 4 groups, which a software
 * adapter runs on separate threads), a larger one when one group does a whole row.
 */
const QWG_SPLIT = 16;
const QWG_ROW = 64;

const div4 = (x: number): boolean => x % 4 === 0;
/** A row-major matrix view whose rows can be read as vec4s. */
const rowsOfQuads = (v: View): boolean => v.strides[1] === 1 && div4(v.strides[0]) && div4(v.offset);

/** The quad kernel needs H % 4 == 0, U and W row-major and 16-byte aligned, and a fresh output. */
function quadsFit(a: GruCellArgs): boolean {
  const H = a.h.shape[1];
  return (
    div4(H) && rowsOfQuads(a.U) && (a.W === null || rowsOfQuads(a.W)) && a.out.offset === 0 && a.out.strides[1] === 1
  );
}

/**
 * The GRU cell with vec4 loads of U and W: lane q owns columns 4q..4q+3 of each gate, so every
 * load of a weight row is one vec4 and the lanes of a SIMD group read adjacent memory. With
 * `resetAfter` a column's candidate needs only its own gates, so the columns are split over
 * workgroups (B rows x ceil(H / 4 / QWG) groups); without it, (r ⊙ h) U_h needs every r of the row
 * first: one workgroup per row, a barrier between the gates and the candidate.
 *
 * With `packed`, U (and W) are read from textures in matmul's packed layout (texel (q, k) = row
 * k, columns 4q..4q+3), which llvmpipe loads for all lanes at once: a token at H = 256 takes
 * 170 µs in this kernel instead of 340 µs (resetAfter, profileKernels on lavapipe).
 */
function gruCellQuadKernel(
  a: GruCellArgs,
  packed: { U: GPUTextureView; W: GPUTextureView | null } | null,
): GruCellKernel {
  const { B, H, params, views, at, name } = operands(a);
  const Hq = H / 4;
  const quad = new Set(['o', 'U', 'W']);
  const texture = (n: string) => (n === 'U' && packed !== null) || (n === 'W' && packed?.W != null);
  const bind = name.map((n, i) =>
    texture(n)
      ? `@group(0) @binding(${i + 1}) var ${n}: texture_storage_2d_array<rgba32float, read>;`
      : `@group(0) @binding(${i + 1}) var<storage, ${i === 0 ? 'read_write' : 'read'}> ${n}: ` +
        `array<${quad.has(n) ? 'vec4<f32>' : 'f32'}>;`,
  );
  const vi = (n: string) => name.indexOf(n);
  /** Scalar element (row, col) of a view. */
  const el = (n: string, row: string, col: string) => {
    const i = at[vi(n)];
    return `${n}[${P(i)} + (${row}) * ${P(i + 1)} + (${col}) * ${P(i + 2)}]`;
  };
  /** The four scalars (row, 4q..4q+3) of a view, as a vec4. */
  const el4 = (n: string, row: string, col0: string) =>
    `vec4<f32>(${[0, 1, 2, 3].map((d) => el(n, row, `${col0} + ${d}`)).join(', ')})`;
  /** Quad q of row `row` of a vec4 matrix (offset and row stride are multiples of 4). */
  const q4 = (n: string, row: string, q: string) => {
    if (texture(n)) return `textureLoad(${n}, vec2<i32>(${q}, ${row}), 0)`;
    const i = at[vi(n)];
    return `${n}[(${P(i)} + (${row}) * ${P(i + 1)}) / 4 + ${q}]`;
  };
  const splitColumns = a.resetAfter;
  const QWG = splitColumns ? QWG_SPLIT : QWG_ROW;
  // The column groups a lane computes: one (its workgroup's x picks it), or every QWG-th.
  const oneColumnGroup = `let q0 = i32(wid.x) * ${QWG} + i32(lid.x);
  if (q0 >= Hq) { return; }
  {
    let q = q0;`;
  const everyColumnGroup = `for (var q = i32(lid.x); q < Hq; q = q + ${QWG}) {`;
  const code = `${WGSL_PRELUDE}
${paramsDecl(params.words.length)}
${bind.join('\n')}
${splitColumns ? '' : `var<workgroup> rh: array<f32, ${GRU_CELL_MAX_HIDDEN}>;`}
fn sigmoid4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(wgru_sigmoid(v.x), wgru_sigmoid(v.y), wgru_sigmoid(v.z), wgru_sigmoid(v.w));
}
fn tanh4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(wgru_tanh(v.x), wgru_tanh(v.y), wgru_tanh(v.z), wgru_tanh(v.w));
}
@compute @workgroup_size(${QWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = i32(wid.y);
  let H = ${P(0)};
  let Hq = H / 4;
  ${splitColumns ? oneColumnGroup : everyColumnGroup}
    // x W + b and h U for the four columns of each gate z | r | h
    var xz = ${a.b ? el4('bias', '0', '4 * q') : 'vec4<f32>(0.0)'};
    var xr = ${a.b ? el4('bias', '0', 'H + 4 * q') : 'vec4<f32>(0.0)'};
    var xh = ${a.b ? el4('bias', '0', '2 * H + 4 * q') : 'vec4<f32>(0.0)'};
    ${
      a.W
        ? `for (var i = 0; i < ${P(1)}; i = i + 1) {
      let xi = ${el('x', 'b', 'i')};
      xz = xz + xi * ${q4('W', 'i', 'q')};
      xr = xr + xi * ${q4('W', 'i', 'Hq + q')};
      xh = xh + xi * ${q4('W', 'i', '2 * Hq + q')};
    }`
        : `xz = ${el4('x', 'b', '4 * q')}; xr = ${el4('x', 'b', 'H + 4 * q')}; xh = ${el4('x', 'b', '2 * H + 4 * q')};`
    }
    var hz = vec4<f32>(0.0);
    var hr = vec4<f32>(0.0);
    ${splitColumns ? 'var hh = vec4<f32>(0.0);' : ''}
    for (var k = 0; k < H; k = k + 1) {
      let hk = ${el('h', 'b', 'k')};
      hz = hz + hk * ${q4('U', 'k', 'q')};
      hr = hr + hk * ${q4('U', 'k', 'Hq + q')};
      ${splitColumns ? `hh = hh + hk * ${q4('U', 'k', '2 * Hq + q')};` : ''}
    }
    // z = σ(x W_z + h U_z + b_z), r = σ(x W_r + h U_r + b_r)
    let z = sigmoid4(xz + hz);
    let r = sigmoid4(xr + hr);
    let hq = ${el4('h', 'b', '4 * q')};
    ${
      splitColumns
        ? `// h̃ = tanh(x W_h + b_h + r ⊙ (h U_h + c)), h' = (1 − z) ⊙ h + z ⊙ h̃
    let cand = tanh4(xh + r * (hh${a.c ? ` + ${el4('c', '0', '4 * q')}` : ''}));
    o[(b * H) / 4 + q] = (1.0 - z) * hq + z * cand;
  }
}`
        : `let rq = r * hq;
    rh[4 * q] = rq.x; rh[4 * q + 1] = rq.y; rh[4 * q + 2] = rq.z; rh[4 * q + 3] = rq.w;
    // z and x W_h + b_h wait in the output row until the candidate is known
    o[(b * H) / 4 + q] = z;
  }
  workgroupBarrier();
  for (var q = i32(lid.x); q < Hq; q = q + ${QWG}) {
    // h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)
    var s = vec4<f32>(0.0);
    for (var k = 0; k < H; k = k + 1) { s = s + rh[k] * ${q4('U', 'k', '2 * Hq + q')}; }
    var xh = ${a.b ? el4('bias', '0', '2 * H + 4 * q') : 'vec4<f32>(0.0)'};
    ${
      a.W
        ? `for (var i = 0; i < ${P(1)}; i = i + 1) { xh = xh + ${el('x', 'b', 'i')} * ${q4('W', 'i', '2 * Hq + q')}; }`
        : `xh = ${el4('x', 'b', '2 * H + 4 * q')};`
    }
    let cand = tanh4(xh + s);
    // h' = (1 − z) ⊙ h + z ⊙ h̃
    let z = o[(b * H) / 4 + q];
    o[(b * H) / 4 + q] = (1.0 - z) * ${el4('h', 'b', '4 * q')} + z * cand;
  }
}`
    }`;
  const bound = name.map((n) => (texture(n) ? `${n}:tex` : n)).join(',');
  const key = `gruCellQuad|${a.resetAfter}|${bound}|${params.words.length}|${QWG}`;
  const workgroups: [number, number, number] = splitColumns ? [Math.ceil(Hq / QWG), B, 1] : [1, B, 1];
  return { key, code, params: params.toArray(), views, workgroups };
}
