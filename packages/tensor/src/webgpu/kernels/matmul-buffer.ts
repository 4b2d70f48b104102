/**
 * The buffer kernel: out = a @ b read from the operands' storage buffers in place (see matmul.ts),
 * and the WGSL pieces the texture kernel shares with it (batch decomposition, bias epilogue).
 */
import type { View } from '../../backend.js';
import { P, Params, paramsDecl, sourceOf } from './common.js';
import { type BufferPlan, dims, type Geometry, type MatmulTarget, range } from './matmul-plan.js';

const MAX_Z = 65535;

/**
 * The bias epilogue: binding 4, and WGSL that adds bias[col] to every row of each accumulator
 * group before the stores (`col(j, q)`: the WGSL for column q of group j). Its two parameters
 * (offset, stride) go last, so a kernel without bias keeps its parameter layout.
 */
export function biasEpilogue(
  g: Geometry,
  params: Params,
  T: string,
  rows: number[],
  groups: number[],
  col: (j: number, q: number) => string,
): { decl: string; lines: string } {
  if (!g.bias) return { decl: '', lines: '' };
  const at = params.push(g.bias.off, g.bias.s);
  const lines = groups.map((j) => {
    const parts = range(4).map((q) => `Bias[${P(at)} + min(${col(j, q)}, N - 1) * ${P(at + 1)}]`);
    return (
      `let bias${j} = vec4<${T}>(${parts.join(', ')});\n  ` +
      `${rows.map((i) => `acc${i}_${j} = acc${i}_${j} + bias${j};`).join(' ')}`
    );
  });
  return { decl: `@group(0) @binding(4) var<storage, read> Bias: array<${T}>;`, lines: lines.join('\n  ') };
}

/** WGSL that decomposes `z` over the batch shape and adds each coordinate times its strides. */
export function batchLines(nb: number, shapeAt: number, targets: { name: string; stridesAt: number }[]): string {
  if (nb === 0) return '';
  const lines: string[] = [];
  for (let d = nb - 1; d >= 0; d--) {
    const adds = targets.map((t) => `${t.name} = ${t.name} + c * ${P(t.stridesAt + d)};`).join(' ');
    lines.push(`{ let c = zr % ${P(shapeAt + d)}; zr = zr / ${P(shapeAt + d)}; ${adds} }`);
  }
  return lines.join('\n  ');
}

/** Splits the batch over dispatches of at most 65,535 workgroups along z. */
export function recordOverBatch(
  g: Geometry,
  zBaseAt: number,
  params: Params,
  each: (p: Int32Array, z: number) => void,
): void {
  for (let z0 = 0; z0 < g.batch; z0 += MAX_Z) {
    params.words[zBaseAt] = z0;
    each(params.toArray(), Math.min(MAX_Z, g.batch - z0));
  }
}

export function bufferKernel(
  g: Geometry,
  plan: BufferPlan,
): { key: string; code: string; params: Params; zBaseAt: number } {
  const { TM, TN, WX, WY, aMode, bMode, oVec } = plan;
  const T = g.T;
  const nb = g.batchShape.length;
  const params = new Params();
  params.push(g.M, g.N, g.K);
  const zBaseAt = params.push(0);
  params.push(g.a.off, g.b.off, g.o.off, g.a.s0, g.a.s1, g.b.s0, g.b.s1, g.o.s0, g.o.s1);
  const shapeAt = params.push(...g.batchShape);
  const aBs = params.push(...g.a.batch);
  const bBs = params.push(...g.b.batch);
  const oBs = params.push(...g.o.batch);
  const cols = 4 * TN;
  const V = `vec4<${T}>`;
  const rows = range(TM);
  const groups = range(TN);
  const epilogue = biasEpilogue(g, params, T, rows, groups, (j, q) => `col0 + ${4 * j + q}`);
  const bias = g.bias ? 'bias' : '';
  const key = `matmul-buf|${T}|${TM}x${TN}|${WX}x${WY}|${aMode}|${bMode}|${oVec}|${nb}|${bias}|${params.words.length}`;
  // The WGSL is the same for every product of a key (all that differs is in params): made once.
  return { key, code: sourceOf(key, bufferSource), params, zBaseAt };

  function bufferSource(): string {
    const kk4 = range(4);

    // Per-invocation bases (element or vec4 indices), computed once.
    const setup: string[] = [];
    if (aMode === 's') setup.push(...rows.map((i) => `let ar${i} = aOff + min(row0 + ${i}, M - 1) * sam;`));
    if (aMode === 'k4') setup.push(...rows.map((i) => `let ar${i} = (aOff + min(row0 + ${i}, M - 1) * sam) / 4;`));
    // m4: four rows per vec4; M is a multiple of 4, so a group past the edge is clamped whole.
    if (aMode === 'm4')
      setup.push(
        `let sak4 = sak / 4;`,
        ...range(TM / 4).map((q) => `let am${q} = (aOff + min(row0 + ${4 * q}, M - 4)) / 4;`),
      );
    if (bMode === 's') setup.push(...range(cols).map((c) => `let bc${c} = bOff + min(col0 + ${c}, N - 1) * sbn;`));
    if (bMode === 'n4')
      setup.push(`let sbk4 = sbk / 4;`, ...groups.map((j) => `let bg${j} = bOff / 4 + min(g0 + ${j}, N / 4 - 1);`));
    if (bMode === 'k4')
      setup.push(...range(cols).map((c) => `let bc${c} = (bOff + min(col0 + ${c}, N - 1) * sbn) / 4;`));

    // Loads of one step: `k` is the WGSL expression of the step's first k. A k4-mode operand reads
    // four k at once (one vec4 per row or column), the others read each k of the step separately.
    const loads = (k: string, steps: number[], k4: string): string[] => {
      const out: string[] = [];
      if (aMode === 'k4') out.push(...rows.map((i) => `let av${i} = A[ar${i} + ${k4}];`));
      for (const s of steps) {
        const ks = s === 0 ? k : `(${k} + ${s})`;
        if (aMode === 's') out.push(...rows.map((i) => `let a${i}_${s} = A[ar${i} + ${ks} * sak];`));
        if (aMode === 'm4') out.push(...range(TM / 4).map((q) => `let am${q}_${s} = A[am${q} + ${ks} * sak4];`));
        if (bMode === 's') out.push(...range(cols).map((c) => `let b${c}_${s} = B[bc${c} + ${ks} * sbk];`));
        if (bMode === 'n4') out.push(...groups.map((j) => `let bv${j}_${s} = B[bg${j} + ${ks} * sbk4];`));
      }
      if (bMode === 'k4') out.push(...range(cols).map((c) => `let bk${c} = B[bc${c} + ${k4}];`));
      return out;
    };
    const aAt = (i: number, s: number): string =>
      aMode === 'k4' ? `av${i}[${s}]` : aMode === 'm4' ? `am${i >> 2}_${s}[${i & 3}]` : `a${i}_${s}`;
    const bAt = (j: number, s: number): string => {
      if (bMode === 'n4') return `bv${j}_${s}`;
      const c = range(4).map((q) => (bMode === 'k4' ? `bk${4 * j + q}[${s}]` : `b${4 * j + q}_${s}`));
      return `${V}(${c.join(', ')})`;
    };
    const madd = (acc: string, x: string, y: string): string =>
      T === 'f32' ? `fma(${V}(${x}), ${y}, ${acc})` : `${acc} + ${V}(${x}) * ${y}`;
    const accumulate = (steps: number[]): string[] =>
      rows.flatMap((i) =>
        groups.map(
          (j) => `acc${i}_${j} = ${steps.reduce((s, kk) => madd(s, aAt(i, kk), bAt(j, kk)), `acc${i}_${j}`)};`,
        ),
      );

    const hasTail = aMode !== 'k4' && bMode !== 'k4'; // k4 modes imply K % 4 == 0
    const stores = rows.flatMap((i) =>
      groups.map((j) => {
        if (oVec)
          return (
            `if (row0 + ${i} < M && g0 + ${j} < N / 4) { O[(oOff + (row0 + ${i}) * som) / 4 + g0 + ${j}] = ` +
            `acc${i}_${j}; }`
          );
        const comps = range(4)
          .map((q) => `if (col0 + ${4 * j + q} < N) { O[ob + (col0 + ${4 * j + q}) * son] = acc${i}_${j}[${q}]; }`)
          .join(' ');
        return `if (row0 + ${i} < M) { let ob = oOff + (row0 + ${i}) * som; ${comps} }`;
      }),
    );
    const binding = (vec: boolean): string => (vec ? V : T);
    return `${paramsDecl(params.words.length)}
@group(0) @binding(1) var<storage, read_write> O: array<${binding(oVec)}>;
@group(0) @binding(2) var<storage, read> A: array<${binding(aMode !== 's')}>;
@group(0) @binding(3) var<storage, read> B: array<${binding(bMode !== 's')}>;
${epilogue.decl}
// Register-blocked matmul over storage buffers: ${TM} rows x ${cols} columns per invocation
// (A loads: ${aMode}, B loads: ${bMode}).
@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P(0)}; let N = ${P(1)}; let K = ${P(2)};
  var zr = i32(gid.z) + ${P(zBaseAt)};
  var aOff = ${P(zBaseAt + 1)}; var bOff = ${P(zBaseAt + 2)}; var oOff = ${P(zBaseAt + 3)};
  ${batchLines(nb, shapeAt, [
    { name: 'aOff', stridesAt: aBs },
    { name: 'bOff', stridesAt: bBs },
    { name: 'oOff', stridesAt: oBs },
  ])}
  let sam = ${P(zBaseAt + 4)}; let sak = ${P(zBaseAt + 5)}; let sbk = ${P(zBaseAt + 6)}; let sbn = ${P(zBaseAt + 7)};
  let som = ${P(zBaseAt + 8)}; let son = ${P(zBaseAt + 9)};
  let row0 = i32(gid.y) * ${TM};
  let g0 = i32(gid.x) * ${TN};
  let col0 = g0 * 4;
  // Rows and columns past the edge are clamped to the last one: loads stay in bounds, stores are masked.
  ${setup.join('\n  ')}
${rows.flatMap((i) => groups.map((j) => `  var acc${i}_${j} = ${V}();`)).join('\n')}
  let K4 = K / 4;
  for (var k4 = 0; k4 < K4; k4 = k4 + 1) {
    let k = k4 * 4;
    ${loads('k', kk4, 'k4').join('\n    ')}
    ${accumulate(kk4).join('\n    ')}
  }${
    hasTail
      ? `
  for (var k = K4 * 4; k < K; k = k + 1) {
    ${loads('k', [0], 'k4').join('\n    ')}
    ${accumulate([0]).join('\n    ')}
  }`
      : ''
  }
  ${epilogue.lines}
  ${stores.join('\n  ')}
}`;
  }
}

export function recordBuffer(
  target: MatmulTarget,
  g: Geometry,
  plan: BufferPlan,
  a: View,
  b: View,
  out: View,
  bias: View | null,
): void {
  const k = bufferKernel(g, plan);
  const pipeline = target.pipeline(k.key, k.code, 'matmul');
  const buffers = [target.buffer(out), target.buffer(a), target.buffer(b), ...(bias ? [target.buffer(bias)] : [])];
  const x = Math.ceil(g.N / (4 * plan.TN * plan.WX));
  const y = Math.ceil(g.M / (plan.TM * plan.WY));
  recordOverBatch(g, k.zBaseAt, k.params, (params, z) => {
    target.engine.record({
      kind: 'dispatch',
      op: `matmul ${dims(g)} (buffer)`,
      pipeline,
      buffers,
      params,
      workgroups: [Math.max(1, x), Math.max(1, y), z],
    });
  });
}
