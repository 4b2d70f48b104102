/**
 * Tensors print as NumPy prints arrays: nested brackets, aligned columns, NumPy's float formats,
 * and past 1,000 elements the first and last 3 entries of each axis. `console.log` (util.inspect)
 * prints the same string. WebGPU values need an asynchronous read: the string says how to get
 * them, and `format()` gives what the CPU backend prints at once.
 */
import { inspect } from 'node:util';
import {
  addInto,
  arange,
  assign,
  formatTensor,
  formatValues,
  randn,
  reshape,
  setBackend,
  tensor,
  transpose,
} from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

describe('formatValues, as NumPy prints', () => {
  it('whole floats as `1.`, others with the fewest decimals (up to 4) that show them all', () => {
    expect(formatValues([1, 2, 3], [3], 'float32')).toBe('[1., 2., 3.]');
    expect(formatValues([0.1, 0.25, -3], [3], 'float32')).toBe('[ 0.10,  0.25, -3.00]');
    expect(formatValues([1 / 3, 2], [2], 'float64')).toBe('[0.3333, 2.0000]');
    expect(formatValues([7], [], 'float32')).toBe('7.');
    expect(formatValues([-4, 12], [2], 'int32')).toBe('[-4, 12]');
  });

  it('switches to scientific notation where NumPy does (max >= 1e8, min < 1e-4, or a ratio above 1e3)', () => {
    expect(formatValues([1e-6, 1, 1e5], [3], 'float32')).toBe('[1.0000e-06, 1.0000e+00, 1.0000e+05]');
    expect(formatValues([1e8], [1], 'float32')).toBe('[1.0000e+08]');
    expect(formatValues([0.5, 1000], [2], 'float32')).toBe('[5.0000e-01, 1.0000e+03]');
    expect(formatValues([0.5, 100], [2], 'float32')).toBe('[  0.5, 100.0]');
    expect(formatValues([Number.NaN, Number.POSITIVE_INFINITY, -1.5], [3], 'float32')).toBe('[ nan,  inf, -1.5]');
  });

  it('rows on their own lines, a blank line between blocks, continuation lines indented', () => {
    expect(formatValues([1, 2, 3, 4], [2, 2], 'int32', 6)).toBe('[[1, 2],\n       [3, 4]]');
    expect(formatValues([1, 2, 3, 4], [2, 1, 2], 'int32')).toBe('[[[1, 2]],\n\n [[3, 4]]]');
    expect(formatValues([], [0], 'float32')).toBe('[]');
  });

  it('past 1,000 elements, the first and last 3 of each axis with `...` between', () => {
    const values = Array.from({ length: 40 * 50 }, (_, i) => i);
    const lines = formatValues(values, [40, 50], 'int32').split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('[[   0,    1,    2, ...,   47,   48,   49],');
    expect(lines[3]).toBe(' ...,');
    expect(lines[6]).toBe(' [1950, 1951, 1952, ..., 1997, 1998, 1999]]');
    // 1,000 elements or fewer: all of them.
    expect(formatValues(new Array(1000).fill(1), [1000], 'int32')).not.toContain('...');
  });

  it('formatTensor: values, then shape, dtype and notes', () => {
    expect(formatTensor('Tensor', [1, 2.5], [2], 'float32', ['cpu'])).toBe(
      'Tensor([1.0, 2.5], shape [2], float32, cpu)',
    );
    expect(formatTensor('Tensor', undefined, [2], 'float32', ['webgpu'])).toBe('Tensor(shape [2], float32, webgpu)');
  });
});

forEachBackend('Tensor printing', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('toString and console.log (util.inspect) print the same string; format() the values on any backend', async () => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(inspect(t)).toBe(t.toString());
    expect(await t.format()).toBe(`Tensor([[1., 2.],\n        [3., 4.]], shape [2, 2], float32, ${name})`);
    if (name !== 'webgpu')
      expect(t.toString()).toBe(await t.format()); // host memory: printed at once
    else {
      expect(t.toString()).toBe(
        'Tensor(shape [2, 2], float32, webgpu, values on the device: console.log(await t.format()) prints them)',
      );
      // The advice works: what it prints is the string the CPU backend prints at once.
      expect((await t.format()).replace('webgpu', 'cpu')).toBe(
        'Tensor([[1., 2.],\n        [3., 4.]], shape [2, 2], float32, cpu)',
      );
    }
    // int32 values made from host data are known without a read, on every backend.
    expect(String(tensor([3, 1], undefined, 'int32'))).toBe(`Tensor([3, 1], shape [2], int32, ${name})`);
    t.dispose();
    expect(String(t)).toBe(`Tensor(shape [2, 2], float32, ${name}, disposed)`);
  });

  it('values known on the host are forgotten when the storage is written in place (assign, addInto)', () => {
    const ids = tensor([3, 1], undefined, 'int32');
    const row = tensor([5, 6, 7], undefined, 'int32');
    addInto(ids, 10);
    assign(row, 0);
    // Stale host copies would print [3, 1] and [5, 6, 7]. The CPU and wasm backends read their
    // memory synchronously and print the new values; on WebGPU they are on the device only.
    const printed = name === 'webgpu' ? ['values on the device', 'values on the device'] : ['[13, 11]', '[0, 0, 0]'];
    expect(String(ids)).toContain(printed[0]);
    expect(String(row)).toContain(printed[1]);
    for (const t of [ids, row]) t.dispose();
  });

  it('views print their own values (a transpose, a slice of a large tensor)', async () => {
    const x = reshape(arange(0, 6), [2, 3]);
    const big = randn([30, 40], { seed: 3 });
    const flat = await big.data();
    const lines = (await big.format()).split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[3]).toBe('        ...,');
    // The first and last numbers shown are the first and last values (in whichever notation).
    const numbers = (line: string) => [...line.matchAll(/-?\d+\.\d*(?:e[+-]\d+)?/g)].map((m) => Number(m[0]));
    expect(numbers(lines[0] as string)[0]).toBeCloseTo(flat[0], 3);
    expect(numbers(lines[6] as string).at(-1)).toBeCloseTo(flat[30 * 40 - 1], 3);
    expect(await x.format()).toMatch(/^Tensor\(\[\[0, 1, 2\],\n {8}\[3, 4, 5\]\], shape \[2, 3\], int32/);
    const xt = transpose(x);
    expect(await xt.format()).toMatch(/^Tensor\(\[\[0, 3\],\n {8}\[1, 4\],\n {8}\[2, 5\]\], shape \[3, 2\]/);
    xt.dispose();
    for (const t of [x, big]) t.dispose();
  });
});
