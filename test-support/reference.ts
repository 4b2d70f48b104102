/** Helpers shared by the tests that compare against reference data and other implementations. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** ONNX's own GRU/LSTM/RNN node tests, vendored in test-support/reference/onnx (see its README). */
export const onnxReferenceDir = path.resolve(repoRoot, 'test-support/reference/onnx');

/** The largest |a_i − b_i| (and the lengths must agree). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}
