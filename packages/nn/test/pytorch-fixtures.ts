/**
 * Reads the PyTorch cross-check fixtures that scripts/pytorch-fixtures.py writes into
 * ./fixtures/pytorch (one safetensors file per case: `param.*` the PyTorch state dict, `in.*` the
 * inputs, `out.*` PyTorch's outputs, `grad.*` its gradients, and the metadata's `config`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '@wgru/tensor';
import { expect } from 'vitest';
import type { ShapedArray } from '../src/importers/common.js';
import { decodeSafetensors, type RawTensor } from '../src/safetensors/codec.js';

export const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pytorch');

export interface Fixture {
  // biome-ignore lint/suspicious/noExplicitAny: the case's JSON configuration
  config: any;
  /** One tensor by its full key (`in.x`, `out.y`, ...). */
  get(key: string): RawTensor;
  /** A float32 tensor as `{ shape, data }`. */
  f32(key: string): ShapedArray<Float32Array>;
  /** The entries under `prefix` (`param.`, `grad.`), the prefix dropped. */
  group(prefix: string): Record<string, ShapedArray<Float32Array>>;
}

export function fixture(name: string): Fixture {
  const { tensors, metadata } = decodeSafetensors(readFileSync(path.join(fixtureDir, `${name}.safetensors`)));
  const get = (key: string): RawTensor => {
    const t = tensors[key];
    if (!t) throw new Error(`fixture ${name}: no tensor '${key}'`);
    return t;
  };
  const f32 = (key: string): ShapedArray<Float32Array> => {
    const t = get(key);
    if (!(t.data instanceof Float32Array)) throw new Error(`fixture ${name}: '${key}' is ${t.dtype}, not float32`);
    return { shape: t.shape, data: t.data };
  };
  return {
    config: JSON.parse(metadata.config ?? '{}'),
    get,
    f32,
    group: (prefix) =>
      Object.fromEntries(
        Object.keys(tensors)
          .filter((k) => k.startsWith(prefix))
          .map((k) => [k.slice(prefix.length), f32(k)]),
      ),
  };
}

/** Row-major transpose of a matrix `{ shape: [r, c], data }`. */
export function transposed(m: ShapedArray<Float32Array>): ShapedArray<Float32Array> {
  const [r, c] = m.shape as [number, number];
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = m.data[i * c + j];
  return { shape: [c, r], data: out };
}

/** Expects |got − want| ≤ tol·(1 + |want|) elementwise (float32 against PyTorch's float32). */
export function expectClose(
  got: ArrayLike<number>,
  want: ShapedArray | ArrayLike<number>,
  label: string,
  tol = 2e-5,
): void {
  const w: ArrayLike<number> = 'data' in want ? (want as ShapedArray).data : (want as ArrayLike<number>);
  expect(got.length, `${label}: length`).toBe(w.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < w.length; i++) {
    const excess = Math.abs(got[i] - w[i]) / (1 + Math.abs(w[i]));
    if (!(excess <= worst)) [worst, at] = [excess, i];
  }
  expect(worst, `${label}: element ${at} is ${got[at]}, PyTorch ${w[at]}`).toBeLessThanOrEqual(tol);
}

/** The values of a tensor (or a parameter's gradient) on the host. */
export async function host(t: Tensor | null | undefined, label: string): Promise<Float32Array> {
  if (!t) throw new Error(`${label}: no tensor (no gradient?)`);
  return Float32Array.from(await t.data());
}
