/**
 * Printing tensors as NumPy does: nested brackets, one row per line, columns aligned, and past
 * 1,000 elements only the first and last 3 entries of each axis with `...` between. Floats share
 * one format: whole numbers as `1.`, others with up to 4 decimals, scientific notation when the
 * magnitudes call for it (as NumPy switches). Used by `Tensor.toString` and by Variable's.
 * @module
 */
import type { DType, Shape } from './dtype.js';
import { shapeString } from './shape.js';

/** `Symbol.for('nodejs.util.inspect.custom')`: what Node's console.log and util.inspect call (no import of node:util, so browsers load this too). */
export const inspectCustom: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;

/** Past this many elements, each axis shows its first and last `EDGE_ITEMS` entries only (NumPy's threshold). */
const SUMMARY_THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const PRECISION = 4;

/** How one number prints, shared by every element so that the columns align. */
function numberFormat(values: ArrayLike<number>, dtype: DType): (x: number) => string {
  if (dtype === 'int32') return (x) => String(x);
  let maxAbs = 0;
  let minAbs = Infinity;
  let decimals = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!Number.isFinite(x)) continue;
    const a = Math.abs(x);
    maxAbs = Math.max(maxAbs, a);
    if (a > 0) minAbs = Math.min(minAbs, a);
    // The fewest decimals (up to PRECISION) that show x as it rounds to PRECISION decimals.
    const fixed = x.toFixed(PRECISION).replace(/0+$/, '');
    decimals = Math.max(decimals, fixed.length - fixed.indexOf('.') - 1);
  }
  const special = (x: number): string | null =>
    Number.isNaN(x) ? 'nan' : Number.isFinite(x) ? null : x > 0 ? 'inf' : '-inf';
  // NumPy's rule for switching to scientific notation.
  if (maxAbs >= 1e8 || (minAbs !== Infinity && (minAbs < 10 ** -PRECISION || maxAbs / minAbs > 1e3)))
    return (x) => special(x) ?? x.toExponential(PRECISION).replace(/e([+-])(\d)$/, 'e$10$2');
  return (x) => special(x) ?? (decimals === 0 ? `${x.toFixed(0)}.` : x.toFixed(decimals));
}

/** Indices kept along an axis of length n: all, or the first and last EDGE_ITEMS with a gap (-1). */
function kept(n: number, summarize: boolean): number[] {
  if (!summarize || n <= 2 * EDGE_ITEMS) return Array.from({ length: n }, (_, i) => i);
  return [
    ...Array.from({ length: EDGE_ITEMS }, (_, i) => i),
    -1,
    ...Array.from({ length: EDGE_ITEMS }, (_, i) => n - EDGE_ITEMS + i),
  ];
}

/**
 * The values of a row-major array of `shape` as NumPy prints them, the continuation lines
 * indented by `indent` columns (the width of what precedes the opening bracket).
 */
export function formatValues(values: ArrayLike<number>, shape: Shape, dtype: DType, indent = 0): string {
  const summarize = values.length > SUMMARY_THRESHOLD;
  if (shape.length === 0) return numberFormat(values, dtype)(values[0]);
  // The printed elements choose the format (as in NumPy) and share one width.
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const shown: number[] = [];
  const collect = (axis: number, offset: number): void => {
    for (const i of kept(shape[axis], summarize)) {
      if (i < 0) continue;
      const at = offset + i * strides[axis];
      if (axis === shape.length - 1) shown.push(values[at]);
      else collect(axis + 1, at);
    }
  };
  collect(0, 0);
  const fmt = numberFormat(shown, dtype);
  const width = Math.max(0, ...shown.map((x) => fmt(x).length));
  const render = (axis: number, offset: number): string => {
    const last = axis === shape.length - 1;
    const parts = kept(shape[axis], summarize).map((i) => {
      if (i < 0) return '...';
      const at = offset + i * strides[axis];
      return last ? fmt(values[at]).padStart(width) : render(axis + 1, at);
    });
    if (last) return `[${parts.join(', ')}]`;
    // Rows on their own lines, a blank line between blocks of rank 3 and up, as NumPy does.
    const pad = ' '.repeat(indent + axis + 1);
    const sep = `,${'\n'.repeat(shape.length - axis - 1)}${pad}`;
    return `[${parts.join(sep)}]`;
  };
  return render(0, 0);
}

/**
 * `Name(values, shape [..], dtype, notes...)`, or `Name(shape [..], dtype, notes...)` when the
 * values are not at hand (a WebGPU tensor: they need an asynchronous read).
 *
 * @example
 * ```ts
 * formatTensor('Tensor', [1, 2.5, 3], [3], 'float32', ['cpu']);
 * // 'Tensor([1.0, 2.5, 3.0], shape [3], float32, cpu)'
 * ```
 */
export function formatTensor(
  name: string,
  values: ArrayLike<number> | undefined,
  shape: Shape,
  dtype: DType,
  notes: readonly string[] = [],
): string {
  const tail = [`shape ${shapeString(shape)}`, dtype, ...notes].join(', ');
  if (values === undefined) return `${name}(${tail})`;
  return `${name}(${formatValues(values, shape, dtype, name.length + 1)}, ${tail})`;
}
