import type { View } from '../../backend.js';
import { WGSL_PRELUDE } from './prelude.js';
import { decompose, ENTRY_1D, linearIndex, offsetExpr, P, Params, paramsDecl } from './common.js';

/**
 * Philox-4x32-10 in WGSL, written from the published definition (the CPU side is in
 * random/philox.ts): element k gets counter (k, 0, 0, 0) under the seed's two key words, so both
 * backends produce the same bits for the same seed.
 */
const PHILOX_WGSL = /* wgsl */ `
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let al = a & 0xffffu; let ah = a >> 16u; let bl = b & 0xffffu; let bh = b >> 16u;
  let ll = al * bl; let lh = al * bh; let hl = ah * bl; let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}
fn philox(c0: u32, k0: u32, k1: u32) -> vec4<u32> {
  var x = vec4<u32>(c0, 0u, 0u, 0u);
  var key = vec2<u32>(k0, k1);
  for (var round = 0; round < 10; round = round + 1) {
    let p0 = mulhilo(0xd2511f53u, x.x);
    let p1 = mulhilo(0xcd9e8d57u, x.z);
    x = vec4<u32>(p1.x ^ x.y ^ key.x, p1.y, p0.x ^ x.w ^ key.y, p0.y);
    key = key + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return x;
}
`;

export function randomKernel(
  kind: 'uniform' | 'normal',
  seedWords: [number, number],
  out: View,
): { key: string; code: string; params: Int32Array; n: number } {
  const rank = out.shape.length;
  const n = out.shape.reduce((a, b) => a * b, 1);
  const params = new Params();
  params.push(n, seedWords[0], seedWords[1]);
  const shapeAt = params.push(...out.shape);
  const offAt = params.push(out.offset);
  const stridesAt = params.push(...out.strides);
  const value =
    kind === 'uniform'
      ? 'f32(w.x >> 8u) * 5.9604644775390625e-8'
      : 'sqrt(-2.0 * wgru_log(f32((w.x >> 8u) + 1u) * 5.9604644775390625e-8)) * ' +
        'cos(6.283185307179586 * f32(w.y >> 8u) * 5.9604644775390625e-8)';
  // wgru_log (in the prelude) is accurate near 1, where Box–Muller's small radii come from.
  const code = `${WGSL_PRELUDE}
${PHILOX_WGSL}
${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
${ENTRY_1D()} {
  ${linearIndex()}
  if (k >= ${P(0)}) { return; }
  ${decompose('k', rank, shapeAt)}
  let w = philox(u32(k), bitcast<u32>(${P(1)}), bitcast<u32>(${P(2)}));
  o[${offsetExpr(rank, offAt, stridesAt)}] = ${value};
}`;
  return { key: `random|${kind}|${rank}`, code, params: params.toArray(), n };
}
