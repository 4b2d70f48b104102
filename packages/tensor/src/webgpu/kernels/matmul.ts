import type { View } from '../../backend.js';
import { P, Params, paramsDecl, wgslType } from './common.js';

/** Each invocation computes a TILE x TILE block of outputs in registers; 8x8 invocations a group. */
const TILE = 4;
const WG = 8;

/**
 * Batched matmul, register-blocked: no workgroup memory and no barriers (expensive on software
 * drivers), 4x4 outputs per invocation accumulated in registers. Operands are read through their
 * strides, so transposed operands and broadcast batch axes cost no copies.
 */
export function matmulKernel(a: View, b: View, out: View): { key: string; code: string; params: Int32Array; workgroups: [number, number, number] } {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const ro = out.shape.length;
  const M = a.shape[ra - 2] as number;
  const K = a.shape[ra - 1] as number;
  const N = b.shape[rb - 1] as number;
  const batchShape = out.shape.slice(0, -2);
  const nb = batchShape.length;
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const params = new Params();
  params.push(M, N, K, a.offset, b.offset, out.offset);
  params.push(a.strides[ra - 2] as number, a.strides[ra - 1] as number, b.strides[rb - 2] as number, b.strides[rb - 1] as number);
  params.push(out.strides[ro - 2] as number, out.strides[ro - 1] as number);
  const bShapeAt = params.push(...batchShape);
  const bsA = params.push(...a.strides.slice(0, -2));
  const bsB = params.push(...b.strides.slice(0, -2));
  const bsO = params.push(...out.strides.slice(0, -2));
  const T = wgslType(out.dtype);

  const batchLines: string[] = ['var rem = i32(gid.z);'];
  for (let d = nb - 1; d >= 0; d--) {
    batchLines.push(`{ let c = rem % ${P(bShapeAt + d)}; rem = rem / ${P(bShapeAt + d)};`);
    batchLines.push(`  aOff = aOff + c * ${P(bsA + d)}; bOff = bOff + c * ${P(bsB + d)}; oOff = oOff + c * ${P(bsO + d)}; }`);
  }
  const rows = Array.from({ length: TILE }, (_, i) => i);
  const code = `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> o: array<${T}>;
@group(0) @binding(2) var<storage, read> A: array<${T}>;
@group(0) @binding(3) var<storage, read> B: array<${T}>;
@compute @workgroup_size(${WG}, ${WG}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P(0)}; let N = ${P(1)}; let K = ${P(2)};
  let row0 = i32(gid.y) * ${TILE};
  let col0 = i32(gid.x) * ${TILE};
  if (row0 >= M || col0 >= N) { return; }
  var aOff = ${P(3)}; var bOff = ${P(4)}; var oOff = ${P(5)};
  ${batchLines.join('\n  ')}
  let sam = ${P(6)}; let sak = ${P(7)}; let sbk = ${P(8)}; let sbn = ${P(9)};
  // Clamp rows/columns past the edge to the last one: loads stay in bounds, stores are masked.
${rows.map((i) => `  let ar${i} = aOff + min(row0 + ${i}, M - 1) * sam;`).join('\n')}
${rows.map((j) => `  let bc${j} = bOff + min(col0 + ${j}, N - 1) * sbn;`).join('\n')}
${rows.map((i) => `  var acc${i} = vec4<${T}>();`).join('\n')}
  for (var kk = 0; kk < K; kk = kk + 1) {
    let bk = kk * sbk;
    let bv = vec4<${T}>(${rows.map((j) => `B[bc${j} + bk]`).join(', ')});
    let ak = kk * sak;
${rows.map((i) => `    acc${i} = acc${i} + A[ar${i} + ak] * bv;`).join('\n')}
  }
  let som = ${P(10)}; let son = ${P(11)};
${rows
  .map(
    (i) => `  if (row0 + ${i} < M) {
${rows.map((j) => `    if (col0 + ${j} < N) { o[oOff + (row0 + ${i}) * som + (col0 + ${j}) * son] = acc${i}[${j}]; }`).join('\n')}
  }`,
  )
  .join('\n')}
}`;
  const workgroups: [number, number, number] = [Math.max(1, Math.ceil(N / (TILE * WG))), Math.max(1, Math.ceil(M / (TILE * WG))), Math.max(1, batch)];
  return { key: `matmul|${T}|${nb}|${params.words.length}`, code, params: params.toArray(), workgroups };
}
