import type { Shape } from './dtype.js';

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i] as number;
  return n;
}

/** Row-major (C-contiguous) strides of a shape, in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Throws unless `shape` is a list of non-negative integers. */
export function checkShape(op: string, arg: string, shape: unknown): asserts shape is Shape {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${op}: ${arg} must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

/**
 * The shape two operands broadcast to, following NumPy: align trailing axes; each pair of sizes
 * must be equal or one of them 1.
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      const cur = out[o];
      if (cur === 1) out[o] = d;
      else if (d !== 1 && d !== cur) {
        throw new Error(
          `${op}: shapes ${shapes.map(shapeString).join(' and ')} cannot be broadcast together (axis ` +
            `${o - rank}: ${cur} vs ${d})`,
        );
      }
    }
  }
  return out;
}

/** Normalise a possibly negative axis into [0, rank). */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  return axisIn(op, axis, rank, `a tensor of rank ${rank}`);
}

/**
 * Normalise `axes` (undefined: all axes; a number; a list; negatives allowed) into a sorted list
 * of distinct axes.
 */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  return axesIn(op, axes, rank, `a tensor of rank ${rank}`);
}

/**
 * @internal `normalizeAxis` for an operand of shape `shape`, whose errors name the shape. `extra`
 * widens the range for ops that insert an axis (unsqueeze, stack: axes of a rank + 1 result).
 */
export function axisOf(op: string, axis: number, shape: Shape, extra = 0): number {
  return axisIn(op, axis, shape.length + extra, `a tensor of shape ${shapeString(shape)}`);
}

/** @internal `normalizeAxes` for an operand of shape `shape`, whose errors name the shape. */
export function axesOf(op: string, axes: number | readonly number[] | undefined, shape: Shape): number[] {
  return axesIn(op, axes, shape.length, `a tensor of shape ${shapeString(shape)}`);
}

function axisIn(op: string, axis: number, rank: number, what: string): number {
  // Like PyTorch, a scalar accepts axis 0 or -1 (and has no axes to reduce).
  const r = Math.max(rank, 1);
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new Error(`${op}: axis ${axis} is out of range for ${what} (valid: ${-r} to ${r - 1})`);
  }
  return axis < 0 ? axis + r : axis;
}

function axesIn(op: string, axes: number | readonly number[] | undefined, rank: number, what: string): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axes !== 'number' && !Array.isArray(axes))
    throw new Error(`${op}: axes must be a number or a list of numbers, got ${JSON.stringify(axes)}`);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const norm = list.map((a) => axisIn(op, a, rank, what));
  if (new Set(norm).size !== norm.length)
    throw new Error(`${op}: repeated axis in ${JSON.stringify(list)} for ${what}`);
  if (rank === 0 && norm.length > 0) return [];
  return norm.sort((a, b) => a - b);
}
