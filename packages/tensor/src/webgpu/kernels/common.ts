import type { DType } from '../../dtype.js';

/** WGSL element type of a storage dtype (float64 never reaches WebGPU). */
export function wgslType(dtype: DType): 'f32' | 'i32' {
  if (dtype === 'float64') throw new Error('WebGPU backend: float64 is supported on the CPU backend only');
  return dtype === 'int32' ? 'i32' : 'f32';
}

/**
 * Kernel parameters live in a uniform array of vec4<i32> (binding 0); `P(i)` is the WGSL for
 * word i. Floats travel as their bits (`bitcast<f32>(P(i))`).
 */
export function P(i: number): string {
  return `p[${i >> 2}][${i & 3}]`;
}

export function paramsDecl(words: number): string {
  return `@group(0) @binding(0) var<uniform> p: array<vec4<i32>, ${Math.max(1, Math.ceil(words / 4))}>;`;
}

/** Builds a kernel's parameter words. */
export class Params {
  readonly words: number[] = [];
  push(...xs: number[]): number {
    const at = this.words.length;
    for (const x of xs) this.words.push(x | 0);
    return at;
  }
  pushF32(x: number): number {
    const f = new Float32Array([x]);
    return this.push(new Int32Array(f.buffer)[0]);
  }
  toArray(): Int32Array {
    const n = Math.max(4, Math.ceil(this.words.length / 4) * 4);
    const a = new Int32Array(n);
    a.set(this.words);
    return a;
  }
}

/** Workgroup counts for `n` invocations of a 1-D kernel with `wg` lanes, split over x and y. */
export function grid1d(n: number, wg = 64): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [Math.max(groups, 1), 1, 1];
  const x = 65535;
  return [x, Math.ceil(groups / x), 1];
}

/** WGSL that sets `k` to the linear invocation index of a `grid1d` dispatch. */
export function linearIndex(wg = 64): string {
  return `let k = i32(gid.x + gid.y * nwg.x * ${wg}u);`;
}

export const ENTRY_1D = (wg = 64) =>
  `@compute @workgroup_size(${wg})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, ` +
  `@builtin(num_workgroups) nwg: vec3<u32>)`;

/**
 * WGSL that decomposes the linear index `k` over a shape held in parameters
 * shapeAt..shapeAt+rank-1 into coordinates c0..c{rank-1}.
 */
export function decompose(k: string, rank: number, shapeAt: number, prefix = 'c'): string {
  if (rank === 0) return '';
  const lines = [`var ${prefix}rem = ${k};`];
  for (let d = rank - 1; d > 0; d--) {
    lines.push(
      `let ${prefix}${d} = ${prefix}rem % ${P(shapeAt + d)}; ${prefix}rem = ${prefix}rem / ${P(shapeAt + d)};`,
    );
  }
  lines.push(`let ${prefix}0 = ${prefix}rem;`);
  return lines.join('\n  ');
}

/** WGSL for offset + sum_d c_d * stride_d, with offset and strides in parameters. */
export function offsetExpr(rank: number, offsetAt: number, stridesAt: number, prefix = 'c'): string {
  const terms = [P(offsetAt)];
  for (let d = 0; d < rank; d++) terms.push(`${prefix}${d} * ${P(stridesAt + d)}`);
  return terms.join(' + ');
}

/** WGSL made once per key (see sourceOf). */
const sources = new Map<string, string>();

/**
 * The WGSL of kernel `key`, made by `make` the first time only. For generators whose source is a
 * function of the key alone (everything else in their params): the matmul kernels, called once a
 * product, spent 25-100 µs making the same string again.
 */
export function sourceOf(key: string, make: () => string): string {
  let code = sources.get(key);
  if (code === undefined) {
    code = make();
    sources.set(key, code);
  }
  return code;
}
