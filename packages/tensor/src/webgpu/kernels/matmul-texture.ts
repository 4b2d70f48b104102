/**
 * The texture kernel: out = a @ b over operands packed into rgba32float textures (see matmul.ts),
 * the pack of each operand recorded before it unless the packed-operand cache holds it already.
 */
import type { View } from '../../backend.js';
import { P, Params, paramsDecl, sourceOf } from './common.js';
import { batchLines, biasEpilogue, recordOverBatch } from './matmul-buffer.js';
import { dims, type Geometry, type MatmulTarget, type Operand, range, slabs, type TexturePlan } from './matmul-plan.js';
import { packedOf, poolOf, recordPack } from './packed-operands.js';

/** How the kernel binds a packed operand. */
const TEXTURE = 'texture_storage_2d_array<rgba32float, read>';

export function textureKernel(
  g: Geometry,
  plan: TexturePlan,
): { key: string; code: string; params: Params; zBaseAt: number } {
  const { TM, TN, WX, WY, oVec } = plan;
  const nb = g.batchShape.length;
  // Layer strides: each operand's distinct matrices are numbered row-major over its non-broadcast axes.
  const layerStrides = (x: Operand): number[] => {
    const s = new Array<number>(nb).fill(0);
    let acc = 1;
    for (let d = nb - 1; d >= 0; d--) {
      if (x.batch[d] !== 0) {
        s[d] = acc;
        acc *= g.batchShape[d];
      }
    }
    return s;
  };
  const params = new Params();
  params.push(g.M, g.N, Math.ceil(g.K / 4));
  const zBaseAt = params.push(0);
  params.push(Math.ceil(g.N / 4), g.o.off, g.o.s0, g.o.s1);
  // A read in place (aBuffer, no batch axes): its offset and row stride, multiples of 4.
  const aAt = params.push(g.a.off, g.a.s0);
  const shapeAt = params.push(...g.batchShape);
  const laAt = params.push(...layerStrides(g.a));
  const lbAt = params.push(...layerStrides(g.b));
  const oBs = params.push(...g.o.batch);
  const rows = range(TM);
  const groups = range(TN);
  const epilogue = biasEpilogue(g, params, 'f32', rows, groups, (j, q) => `(g0 + ${j}) * 4 + ${q}`);
  const aBuffer = plan.aBuffer;
  const bias = g.bias ? 'bias' : '';
  const key = `matmul-tex|${TM}x${TN}|${WX}x${WY}|${oVec}|${aBuffer}|${nb}|${bias}|${params.words.length}`;
  // The WGSL is the same for every product of a key (all that differs is in params): made once.
  const code = sourceOf(key, textureSource);
  return { key, code, params, zBaseAt };

  function textureSource(): string {
    const kk4 = range(4);
    const axis = ['x', 'y', 'z', 'w'];
    // acc += a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3, as a chain of fma
    const madds = (i: number, j: number) =>
      kk4.reduce((s, kk) => `fma(vec4<f32>(a${i}.${axis[kk]}), b${kk}_${j}, ${s})`, `acc${i}_${j}`);
    const accumulate = rows.flatMap((i) => groups.map((j) => `acc${i}_${j} = ${madds(i, j)};`));
    const stores = rows.flatMap((i) =>
      groups.map((j) => {
        if (oVec)
          return (
            `if (row0 + ${i} < M && g0 + ${j} < N4) { O[(oOff + (row0 + ${i}) * som) / 4 + g0 + ${j}] = ` +
            `acc${i}_${j}; }`
          );
        const comps = range(4)
          .map((q) => `if (c + ${q} < N) { O[ob + (c + ${q}) * son] = acc${i}_${j}.${axis[q]}; }`)
          .join(' ');
        return `if (row0 + ${i} < M) { let ob = oOff + (row0 + ${i}) * som; let c = (g0 + ${j}) * 4; ${comps} }`;
      }),
    );
    // One k-step's loads: a texel of A per row (4 consecutive k), a texel of B per k and column group.
    const aLoads = rows.map((i) =>
      aBuffer ? `    let a${i} = A[ab${i} + k4];` : `    let a${i} = textureLoad(tA, vec2<i32>(k4, ar${i}), la);`,
    );
    const bLoads = kk4.flatMap((kk) =>
      groups.map((j) => `    let b${kk}_${j} = textureLoad(tB, vec2<i32>(bc${j}, k + ${kk}), lb);`),
    );
    return `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> O: array<${oVec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) ${aBuffer ? 'var<storage, read> A: array<vec4<f32>>;' : `var tA: ${TEXTURE};`}
@group(0) @binding(3) var tB: ${TEXTURE};
${epilogue.decl}
// Register-blocked matmul over packed operands: ${TM} rows x ${4 * TN} columns per invocation.
// A texel of A holds 4 consecutive k of one row; a texel of B, 4 consecutive columns of one k.
@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P(0)}; let N = ${P(1)}; let K4 = ${P(2)}; let N4 = ${P(zBaseAt + 1)};
  var zr = i32(gid.z) + ${P(zBaseAt)};
  var la = 0; var lb = 0; var oOff = ${P(zBaseAt + 2)};
  ${batchLines(nb, shapeAt, [
    { name: 'la', stridesAt: laAt },
    { name: 'lb', stridesAt: lbAt },
    { name: 'oOff', stridesAt: oBs },
  ])}
  let som = ${P(zBaseAt + 3)}; let son = ${P(zBaseAt + 4)};
  let row0 = i32(gid.y) * ${TM};
  let g0 = i32(gid.x) * ${TN};
  // Rows and column groups past the edge read the last one; their results are not stored.
${rows.map((i) => `  let ar${i} = min(row0 + ${i}, M - 1);`).join('\n')}
${aBuffer ? rows.map((i) => `  let ab${i} = (${P(aAt)} + ar${i} * ${P(aAt + 1)}) / 4;`).join('\n') : ''}
${groups.map((j) => `  let bc${j} = min(g0 + ${j}, N4 - 1);`).join('\n')}
${rows.flatMap((i) => groups.map((j) => `  var acc${i}_${j} = vec4<f32>();`)).join('\n')}
  for (var k4 = 0; k4 < K4; k4 = k4 + 1) {
    let k = k4 * 4;
${aLoads.join('\n')}
${bLoads.join('\n')}
    ${accumulate.join('\n    ')}
  }
  ${epilogue.lines}
  ${stores.join('\n  ')}
}`;
  }
}

/** Stands for A's texture when A is read from its buffer (never bound, never released). */
const NO_TEXTURE = {} as GPUTexture;

export function recordTexture(
  target: MatmulTarget,
  g: Geometry,
  plan: TexturePlan,
  a: View,
  b: View,
  out: View,
  keepB: { contents: { storage: object; version: number }; key: string } | null,
  bias: View | null,
): void {
  const pool = poolOf(target.device);
  const cache = packedOf(target);
  const engine = target.engine;
  const K4 = Math.ceil(g.K / 4);
  const N4 = Math.ceil(g.N / 4);
  const cachedB = keepB ? cache.get(keepB.contents, keepB.key) : null;
  // A: [M rows][K4 texels]; B: [4*K4 rows][N4 texels] (rows past K are zero, so the padded k of
  // both operands multiply to exactly 0).
  const packs = [
    {
      view: a,
      x: g.a,
      rows: g.M,
      valid: g.M,
      inner: g.K,
      width: K4,
      vec: plan.aVec,
      ready: plan.aBuffer ? NO_TEXTURE : null,
    },
    { view: b, x: g.b, rows: 4 * K4, valid: g.K, inner: g.N, width: N4, vec: plan.bVec, ready: cachedB },
  ].map((s) => {
    if (s.ready) return s.ready;
    const tex = pool.acquire(s.width, s.rows, slabs(g, s.x));
    recordPack(
      target,
      tex,
      s.view,
      s.x,
      g.batchShape,
      s.rows,
      s.valid,
      s.inner,
      s.vec,
      `matmul ${dims(g)} (pack ${s.view === a ? 'A' : 'B'})`,
    );
    return tex;
  });
  const [tA, tB] = packs as [GPUTexture, GPUTexture];
  const k = textureKernel(g, plan);
  const pipeline = target.pipeline(k.key, k.code, 'matmul');
  const buffers = [
    target.buffer(out),
    plan.aBuffer ? target.buffer(a) : pool.view(tA),
    pool.view(tB),
    ...(bias ? [target.buffer(bias)] : []),
  ];
  const x = Math.ceil(N4 / (plan.TN * plan.WX));
  const y = Math.ceil(g.M / (plan.TM * plan.WY));
  recordOverBatch(g, k.zBaseAt, k.params, (params, z) => {
    engine.record({
      kind: 'dispatch',
      op: `matmul ${dims(g)} (texture${plan.aBuffer ? ', A in place' : ''})`,
      pipeline,
      buffers,
      params,
      workgroups: [x, y, z],
    });
  });
  if (!plan.aBuffer) pool.release(tA, engine);
  if (keepB) {
    if (!cachedB) cache.put(keepB.contents, keepB.key, tB);
  } else pool.release(tB, engine);
}
