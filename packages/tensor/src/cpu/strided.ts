import type { Shape } from '../dtype.js';

/**
 * Visits every index of `shape` in row-major order and calls `fn(k, offsets)` where `k` is the
 * row-major position and offsets[j] the element offset of that index in view j. An odometer: no
 * division per element.
 */
export function forEachIndex(
  shape: Shape,
  views: ReadonlyArray<{ strides: readonly number[]; offset: number }>,
  fn: (k: number, offsets: Int32Array | number[]) => void,
): void {
  const rank = shape.length;
  let size = 1;
  for (const d of shape) size *= d;
  if (size === 0) return;
  const offsets = views.map((v) => v.offset);
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < size; k++) {
    fn(k, offsets);
    // advance the odometer
    for (let ax = rank - 1; ax >= 0; ax--) {
      const i = idx[ax] + 1;
      if (i < shape[ax]) {
        idx[ax] = i;
        for (let j = 0; j < views.length; j++)
          offsets[j] = offsets[j] + (views[j] as { strides: readonly number[] }).strides[ax];
        break;
      }
      idx[ax] = 0;
      for (let j = 0; j < views.length; j++)
        offsets[j] = offsets[j] - (i - 1) * (views[j] as { strides: readonly number[] }).strides[ax];
    }
  }
}
