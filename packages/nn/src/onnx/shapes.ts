/**
 * Symbolic shapes for ONNX export: which sizes of a traced value follow the dynamic axes of the
 * inputs (the batch, the sequence length) and which are fixed.
 *
 * The trace runs once, at the example inputs' sizes. An exported graph must also run at other
 * sizes along the dynamic axes, so every size it writes down (a Reshape's target, a Slice's end)
 * has to say how it depends on them. Each axis of each traced value is kept as a {@link Dim}: a
 * product of factors, numbers for fixed sizes and names for dynamic ones (`['time', 'batch']` is
 * T·B). The names' sizes at trace time are known, so every rule below can match sizes by value.
 */
import { shapeString } from '@wgru/tensor';

/** One axis: the product of its factors (numbers are fixed sizes, strings dynamic ones). */
export type Dim = ReadonlyArray<number | string>;

/** The sizes of the dynamic axes' names at trace time. */
export type SymbolSizes = ReadonlyMap<string, number>;

/** A fixed size as a Dim. */
export const fixed = (n: number): Dim => [n];

/** Whether the axis has a fixed size (no dynamic factor). */
export const isFixed = (d: Dim): boolean => d.every((f) => typeof f === 'number');

/** The axis' size at trace time. */
export function sizeOf(d: Dim, syms: SymbolSizes): number {
  return d.reduce<number>((p, f) => p * (typeof f === 'number' ? f : (syms.get(f) as number)), 1);
}

/** A readable name for the axis, as ONNX's dim_param: 'batch', 'time*batch', or the number. */
export function dimName(d: Dim, syms: SymbolSizes): number | string {
  return isFixed(d) ? sizeOf(d, syms) : d.filter((f) => f !== 1).join('*');
}

/** Whether two axes are the same expression (so one may be copied for the other). */
function sameDim(a: Dim, b: Dim): boolean {
  const strip = (d: Dim) => d.filter((f) => f !== 1).join('*');
  return strip(a) === strip(b);
}

/** NumPy broadcasting of symbolic shapes: a fixed 1 takes the other side's axis. */
export function broadcastDims(a: readonly Dim[], b: readonly Dim[], syms: SymbolSizes): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i];
    const y = b[b.length - n + i];
    if (x === undefined) out.push(y as Dim);
    else if (y === undefined) out.push(x);
    else if (isFixed(x) && sizeOf(x, syms) === 1) out.push(y);
    else if (isFixed(y) && sizeOf(y, syms) === 1) out.push(x);
    else out.push(isFixed(x) ? y : x);
  }
  return out;
}

/**
 * The symbolic shape of a reshape of `from` to the (trace-time) sizes `to`: the input's factors,
 * in order, are dealt out to the output axes by size (a fixed factor may be split). Throws when a
 * dynamic factor would have to be split, which no graph could express.
 */
export function reshapeDims(from: readonly Dim[], to: readonly number[], syms: SymbolSizes, where: string): Dim[] {
  const factors: Array<number | string> = from.flat().filter((f) => f !== 1);
  const size = (f: number | string) => (typeof f === 'number' ? f : (syms.get(f) as number));
  const fail = (): never => {
    const shown = from.map((d) => dimName(d, syms));
    throw new Error(
      `${where}: cannot reshape [${shown.join(', ')}] to ${shapeString(to)} along dynamic axes (a dynamic size would have to split); make those axes static with the dynamicAxes option`,
    );
  };
  const out: Dim[] = [];
  for (const n of to) {
    const dim: Array<number | string> = [];
    let acc = 1;
    while (acc < n) {
      const f = factors[0];
      if (f === undefined) fail();
      const s = size(f as number | string);
      if (acc * s <= n && n % (acc * s) === 0) {
        dim.push(f as number | string);
        acc *= s;
        factors.shift();
      } else if (typeof f === 'number' && f % (n / acc) === 0) {
        // Split a fixed factor: take what this axis needs, leave the rest for the next.
        const take = n / acc;
        dim.push(take);
        acc *= take;
        factors[0] = f / take;
      } else fail();
    }
    if (acc !== n) fail();
    out.push(dim.length ? dim : [n]);
  }
  if (factors.some((f) => size(f) !== 1)) fail();
  return out;
}

/**
 * The `shape` input of an ONNX Reshape from `from` to `to`: fixed sizes as themselves, an axis
 * equal to the input's at the same position as 0 (copy), and at most one other dynamic axis as -1.
 */
export function reshapeTarget(from: readonly Dim[], to: readonly Dim[], syms: SymbolSizes, where: string): number[] {
  let inferred = -1;
  return to.map((d, i) => {
    if (isFixed(d)) return sizeOf(d, syms);
    const src = from[i];
    if (src !== undefined && sameDim(src, d)) return 0;
    if (inferred >= 0) {
      throw new Error(
        `${where}: the reshape to [${to.map((x) => dimName(x, syms)).join(', ')}] has dynamic axes ${inferred} and ${i} that are not copied from the input at the same position; ONNX's Reshape can infer only one`,
      );
    }
    inferred = i;
    return -1;
  });
}
