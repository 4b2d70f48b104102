import type { GruCellArgs, View } from '../../backend.js';
import { WGSL_PRELUDE } from '../../ops/table.js';
import { P, Params, paramsDecl } from './common.js';

/** Lanes per workgroup; one workgroup per batch row, each lane owning columns j, j+WG, ... */
const WG = 64;
/** The largest hidden size the kernel keeps r ⊙ h for in workgroup memory. */
export const GRU_CELL_MAX_HIDDEN = 1024;

/**
 * The GRU cell as ONE kernel (inference): workgroup b computes row b of h'. Phase 1: each lane
 * computes z_j and r_j for its columns (dot products of h_b with U's columns) and keeps r_j and
 * r_j h_j in workgroup memory; a barrier; phase 2: the candidate and the new state. U (and W) are
 * read once per row; nothing goes through device memory between the gates.
 */
export function gruCellKernel(a: GruCellArgs): { key: string; code: string; params: Int32Array; views: View[]; workgroups: [number, number, number] } {
  const B = a.h.shape[0] as number;
  const H = a.h.shape[1] as number;
  const I = a.W ? (a.x.shape[1] as number) : 0;
  const params = new Params();
  const views: View[] = [a.out, a.x, a.h, a.U];
  if (a.W) views.push(a.W);
  if (a.b) views.push(a.b);
  if (a.c) views.push(a.c);
  params.push(H, I);
  // offset and two strides per view (1-D views: stride 0 for the row)
  const at = views.map((v) => params.push(v.offset, v.shape.length === 2 ? (v.strides[0] as number) : 0, v.strides[v.shape.length - 1] as number));
  const name = ['o', 'x', 'h', 'U', ...(a.W ? ['W'] : []), ...(a.b ? ['bias'] : []), ...(a.c ? ['c'] : [])];
  const idx = (i: number, row: string, col: string) => `${P(at[i] as number)} + (${row}) * ${P((at[i] as number) + 1)} + (${col}) * ${P((at[i] as number) + 2)}`;
  const bind = name.map((n, i) => `@group(0) @binding(${i + 1}) var<storage, ${i === 0 ? 'read_write' : 'read'}> ${n}: array<f32>;`);
  const vi = (n: string) => name.indexOf(n);
  // x_t W_g + b_g for gate column g (or the given projection)
  const xp = (g: string) =>
    a.W
      ? `xw(b, ${g})`
      : `x[${idx(vi('x'), 'b', g)}]`;
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
        ? `let cand = wgru_tanh(${xp('2 * H + j')} + rs[j] * (hu(b, 2 * H + j)${a.c ? ` + c[${idx(vi('c'), '0', 'j')}]` : ''}));`
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
