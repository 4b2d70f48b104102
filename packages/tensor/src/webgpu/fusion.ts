import { type Storage, type View, viewIsContiguous } from '../backend.js';
import type { DType } from '../dtype.js';
import { type Expr, exprConsts, exprKey } from '../expr.js';
import { WGSL_PRELUDE } from './kernels/prelude.js';
import { decompose, ENTRY_1D, linearIndex, offsetExpr, P, Params, paramsDecl, wgslType } from './kernels/common.js';
import { wgslOf, writeConsts } from './kernels/expr.js';

/**
 * Automatic elementwise fusion. Elementwise ops are not dispatched one by one: they wait in an
 * open run, and when something else needs the device (a matmul, a reduction, a read), the run is
 * cut into groups of ops over the same index space, and each group becomes ONE generated kernel.
 * Inside a group, a value produced by an earlier op is passed on in a register instead of through
 * memory, and it is written to memory only if something still needs it: a live tensor, or a later
 * op outside the group. So `sub(1, z).mul(h).add(z.mul(hTilde))` is one kernel, and its
 * temporaries never touch memory.
 */

/** One recorded elementwise op: out = expr(inputs), all views of out's shape. */
export interface MapCommand {
  expr: Expr;
  inputs: readonly View[];
  out: View;
}

/** What the fuser needs from storage: the GPU buffer and whether its tensor is still alive. */
interface FusableStorage extends Storage {
  readonly buffer: GPUBuffer;
  freed: boolean;
}

function sameView(a: View, b: View): boolean {
  return (
    a.storage === b.storage &&
    a.offset === b.offset &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i] && (d === 1 || a.strides[i] === b.strides[i]))
  );
}

function sameShape(a: View, b: View): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

/**
 * Cuts a run into groups that can share one kernel: the same output shape, every value produced
 * inside the group read back exactly as written (same view, so element i only needs element i),
 * no write to memory that an earlier op of the group reads through another view, and at most
 * `maxBuffers` distinct buffers among its external inputs and the results `stored` says it keeps.
 */
export function groupRun(
  run: readonly MapCommand[],
  maxBuffers: number,
  stored: (cmd: MapCommand) => boolean,
): MapCommand[][] {
  const groups: MapCommand[][] = [];
  let group: MapCommand[] = [];
  let buffers = new Set<GPUBuffer>();
  const bufferOf = (v: View) => (v.storage as FusableStorage).buffer;
  for (const cmd of run) {
    let fits = group.length > 0 && sameShape(cmd.out, (group[0] as MapCommand).out);
    if (fits) {
      // Element i of a kernel may only meet element i: a read of something the group wrote must be
      // the very same view or provably disjoint from it; likewise a write against earlier reads
      // and writes.
      const clash = (p: View, q: View) => p.storage === q.storage && !sameView(p, q) && !disjoint(p, q);
      for (const x of cmd.inputs) for (const prev of group) if (clash(prev.out, x)) fits = false;
      for (const prev of group) {
        for (const x of prev.inputs) if (clash(x, cmd.out)) fits = false;
        if (clash(prev.out, cmd.out)) fits = false;
      }
      const next = new Set(buffers);
      for (const v of cmd.inputs) if (!group.some((prev) => sameView(prev.out, v))) next.add(bufferOf(v));
      if (stored(cmd)) next.add(bufferOf(cmd.out));
      if (next.size > maxBuffers) fits = false;
    }
    if (!fits && group.length > 0) {
      groups.push(group);
      group = [];
      buffers = new Set();
    }
    for (const v of cmd.inputs) if (!group.some((prev) => sameView(prev.out, v))) buffers.add(bufferOf(v));
    if (stored(cmd)) buffers.add(bufferOf(cmd.out));
    group.push(cmd);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Whether two views of one storage can be proven to touch no common element. Views cut from one
 * row-major tensor (slices, column blocks of a [B, 3H] gate matrix) have the same nested strides;
 * their start offsets then decompose into per-axis coordinates, and the views are boxes in that
 * coordinate space: disjoint iff their intervals are disjoint on some axis. Anything else is
 * conservatively treated as overlapping.
 */
function disjoint(a: View, b: View): boolean {
  const rank = a.shape.length;
  if (rank !== b.shape.length || a.strides.some((s, i) => s !== b.strides[i])) return !overlapsByExtent(a, b);
  const axes = [...a.strides.keys()].filter((i) => a.shape[i] !== 1 || b.shape[i] !== 1);
  axes.sort((i, j) => a.strides[j] - a.strides[i]);
  // nested: each stride a multiple of the next, and the next axis' whole extent fits inside it
  for (let k = 0; k + 1 < axes.length; k++) {
    const s = a.strides[axes[k]];
    const inner = a.strides[axes[k + 1]];
    if (inner <= 0 || s % inner !== 0) return !overlapsByExtent(a, b);
  }
  const digits = (v: View): { d: number[]; r: number } | null => {
    let rem = v.offset;
    const d: number[] = [];
    for (let k = 0; k < axes.length; k++) {
      const s = v.strides[axes[k]];
      d.push(Math.floor(rem / s));
      rem -= d[k] * s;
      // no carry: the box must stay within the radix of this (inner) axis
      if (k > 0) {
        const radix = v.strides[axes[k - 1]] / s;
        if (d[k] + v.shape[axes[k]] > radix) return null;
      }
    }
    return { d, r: rem };
  };
  const da = digits(a);
  const db = digits(b);
  if (!da || !db) return !overlapsByExtent(a, b);
  if (da.r !== db.r) return true;
  return axes.some((ax, k) => {
    const a0 = da.d[k];
    const b0 = db.d[k];
    return a0 + a.shape[ax] <= b0 || b0 + b.shape[ax] <= a0;
  });
}

/** Whether the address ranges of two views intersect (a coarse test). */
function overlapsByExtent(a: View, b: View): boolean {
  const extent = (v: View) => {
    let hi = v.offset;
    v.shape.forEach((d, i) => {
      hi += (d - 1) * Math.max(v.strides[i], 0);
    });
    return [v.offset, hi] as const;
  };
  const [a0, a1] = extent(a);
  const [b0, b1] = extent(b);
  return a0 <= b1 && b0 <= a1;
}

export interface FusedKernel {
  key: string;
  code: string;
  params: Int32Array;
  buffers: GPUBuffer[];
  n: number;
  ops: string;
}

/**
 * Generates one kernel for a group. `needed[k]` says whether op k's result must be stored (a
 * live tensor or a reader outside the group); the others live only in registers. `wg` is the
 * workgroup size (the autotuner may pick another than 64: each invocation still computes one
 * element with the same expression, so the results are the same bit for bit).
 */
export function fusedKernel(group: readonly MapCommand[], needed: readonly boolean[], wg = 64): FusedKernel {
  const first = group[0] as MapCommand;
  const shape = first.out.shape;
  const rank = shape.length;
  const n = shape.reduce((a, b) => a * b, 1);
  const params = new Params();
  params.push(n);
  const shapeAt = params.push(...shape);

  // Buffers: one binding each; read_write if any op of the group stores into it.
  const buffers: GPUBuffer[] = [];
  const types: DType[] = [];
  const written: boolean[] = [];
  const bindingOf = (v: View, write: boolean): number => {
    const b = (v.storage as FusableStorage).buffer;
    let i = buffers.indexOf(b);
    if (i < 0) {
      buffers.push(b);
      types.push(v.dtype);
      written.push(false);
      i = buffers.length - 1;
    }
    if (write) written[i] = true;
    return i;
  };
  group.forEach((cmd, k) => {
    if (needed[k]) bindingOf(cmd.out, true);
  });

  // Loads of external inputs (each distinct view loaded once), then one `let` per op.
  const loads: string[] = [];
  const loaded: Array<{ view: View; name: string }> = [];
  const lines: string[] = [];
  const keyParts: string[] = [`r${rank}`];
  let anyStrided = false;
  const indexOf = (v: View, at: number): string => {
    const contiguous = viewIsContiguous(v) && sameShape(v, first.out);
    if (!contiguous) anyStrided = true;
    keyParts.push(contiguous ? 'c' : 's');
    return contiguous ? `${P(at)} + k` : offsetExpr(rank, at, at + 1);
  };
  group.forEach((cmd, k) => {
    const names = cmd.inputs.map((x) => {
      // A value produced earlier in the group: take it from its register.
      for (let j = k - 1; j >= 0; j--) if (sameView((group[j] as MapCommand).out, x)) return `v${j}`;
      const seen = loaded.find((l) => sameView(l.view, x) && l.view.dtype === x.dtype);
      if (seen) return seen.name;
      const name = `x${loaded.length}`;
      const at = params.push(x.offset);
      params.push(...x.strides);
      const binding = bindingOf(x, false);
      loads.push(`let ${name} = b${binding}[${indexOf(x, at)}];`);
      keyParts.push(`b${binding}`);
      loaded.push({ view: x, name });
      return name;
    });
    const constStart = params.words.length;
    for (let i = 0; i < exprConsts(cmd.expr).length; i++) params.push(0);
    writeConsts(cmd.expr, params, constStart);
    lines.push(`let v${k} = ${wgslOf(cmd.expr, (i) => names[i] as string, { next: constStart })};`);
    keyParts.push(`${exprKey(cmd.expr)}<${names.join(',')}>`);
  });
  const stores: string[] = [];
  group.forEach((cmd, k) => {
    if (!needed[k]) return;
    const at = params.push(cmd.out.offset);
    params.push(...cmd.out.strides);
    const binding = bindingOf(cmd.out, true);
    stores.push(`b${binding}[${indexOf(cmd.out, at)}] = v${k};`);
    keyParts.push(`w${k}b${binding}`);
  });
  const decls = buffers.map(
    (_, i) =>
      `@group(0) @binding(${i + 1}) var<storage, ${written[i] ? 'read_write' : 'read'}> b${i}: ` +
      `array<${wgslType(types[i] as DType)}>;`,
  );
  const code = `${WGSL_PRELUDE}
${paramsDecl(params.words.length)}
${decls.join('\n')}
${ENTRY_1D(wg)} {
  ${linearIndex(wg)}
  if (k >= ${P(0)}) { return; }
  ${anyStrided ? decompose('k', rank, shapeAt) : ''}
  ${loads.join('\n  ')}
  ${lines.join('\n  ')}
  ${stores.join('\n  ')}
}`;
  keyParts.push(types.map((t, i) => `${t}${written[i] ? 'w' : 'r'}`).join(','), `${params.words.length}`);
  return {
    key: `fused|${keyParts.join('|')}${wg === 64 ? '' : `|wg${wg}`}`,
    code,
    params: params.toArray(),
    buffers,
    n,
    ops: `${group.map((c) => exprKey(c.expr)).join('; ')} [${group[0]?.out.shape.join(', ')}]`,
  };
}
