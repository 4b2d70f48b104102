/**
 * The WebAssembly backend's own parts: its memory and allocator, the SIMD library functions
 * against the plain lane-by-lane ones, its sgemm, and the default choice of backend.
 */
import { spawnSync } from 'node:child_process';
import {
  add,
  concat,
  isSoftwareAdapter,
  mul,
  setBackend,
  sigmoid,
  slice,
  type Tensor,
  tanh,
  tensor,
  transpose,
} from '@wgru/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Expr } from '../src/expr.js';
import { WasmBackend } from '../src/wasm/backend.js';
import { MAX_PAGES, SHARED, sizeClass, WasmHeap } from '../src/wasm/heap.js';
import { libraryOptions } from '../src/wasm/library.js';
import { FC_SEED } from './property-support.js';

describe('wasm heap', () => {
  it('one memory, shared in Node, with a maximum; offset 0 never handed out; freed blocks reused by size class', () => {
    const heap = new WasmHeap(1);
    expect(SHARED).toBe(true);
    expect(heap.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const a = heap.malloc(1);
    expect(a.ptr).toBeGreaterThan(0);
    expect(a.ptr % 64).toBe(0);
    const b = heap.malloc(1000);
    expect(b.capacity).toBe(sizeClass(1000));
    heap.release(b.ptr, b.capacity);
    expect(heap.bytesPooled).toBe(b.capacity);
    expect(heap.malloc(900).ptr).toBe(b.ptr); // same class, reused
    const big = heap.malloc(5 << 20); // grows the memory and refreshes the views
    expect(heap.f32.length * 4).toBeGreaterThanOrEqual(big.ptr + big.capacity);
    expect(MAX_PAGES * 65536).toBe(2 ** 31);
  });
  it('size classes: at most 25% over the request (64 bytes at least)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 28 }), (n) => {
        const c = sizeClass(n);
        return c >= n && c % 64 === 0 && (c <= 64 || c <= n * 1.25 + 64);
      }),
      { seed: FC_SEED },
    );
  });
});

describe('wasm library functions', () => {
  const edge = [
    0, -0, 1e-30, -1e-30, 0.5, -0.5, 0.999, 1, -1, 1.001, 2, 10, -10, 20, 80, 88.7, 88.8, -87, -100, -103.9, -104,
  ];
  // exp's range ends (overflow past 88.7228394, underflow below -103.972084) and its clamp to [-104, 89]
  const ends = [88.72283, 88.7229, 89, 89.5, 200, -103.97, -103.98, -105, -200, Infinity, -Infinity];
  const values = Float32Array.from([
    ...edge,
    ...ends,
    ...Array.from({ length: 400 }, (_, i) => (i - 200) * 0.4537),
    Number.NaN,
  ]);
  const run = (op: 'exp' | 'sigmoid' | 'tanh', fast: boolean): Float32Array => {
    libraryOptions.fast = fast;
    try {
      const be = new WasmBackend(); // a fresh kernel cache
      const x = be.upload(values);
      const out = be.alloc('float32', values.length);
      const view = (s: typeof out) => be.contiguous(s, [values.length]);
      const e: Expr = { kind: 'unary', op, a: { kind: 'input', index: 0, dtype: 'float32' }, dtype: 'float32' };
      be.map(e, [view(x as typeof out)], view(out));
      return be.readSync(view(out)) as Float32Array;
    } finally {
      libraryOptions.fast = true;
    }
  };
  for (const op of ['exp', 'sigmoid', 'tanh'] as const) {
    it(`${op}: the SIMD version agrees with the lane-by-lane one (<= 4 ulp, or 2^-126 absolute)`, () => {
      const fast = run(op, true);
      const plain = run(op, false);
      for (let i = 0; i < values.length; i++) {
        const [f, p] = [fast[i], plain[i]];
        if (Number.isNaN(p) || !Number.isFinite(p)) {
          expect(Object.is(f, p) || (Number.isNaN(f) && Number.isNaN(p)), `${op}(${values[i]})`).toBe(true);
          continue;
        }
        expect(Math.abs(f - p), `${op}(${values[i]}): ${f} vs ${p}`).toBeLessThanOrEqual(
          Math.max(4 * 2 ** -23 * Math.abs(p), 2 ** -126),
        );
      }
    });
  }
});

describe('wasm sgemm', () => {
  it('C = A @ B + bias for strided A, every tile shape (4x8, 4x4, 1x1 remainders)', () => {
    const be = new WasmBackend();
    for (const [m, k, n] of [
      [1, 1, 1],
      [5, 3, 17],
      [9, 7, 12],
      [4, 0, 8],
    ] as const) {
      const A = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 11) - 5);
      const B = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 13) - 6);
      const bias = Float32Array.from({ length: n }, (_, i) => i / 4);
      // A stored transposed ([k, m]): read with row stride 1 and column stride m
      const At = Float32Array.from({ length: m * k }, (_, i) => A[(i % m) * k + Math.floor(i / m)]);
      const [a, b, c, bs] = [be.upload(At), be.upload(B), be.alloc('float32', m * n), be.upload(bias)];
      const ptr = (s: unknown) => (s as { ptr: number }).ptr;
      be.sgemm(m, n, k, ptr(a), 1, m, ptr(b), n, 1, ptr(c), ptr(bs));
      const got = be.heap.f32.subarray(ptr(c) / 4, ptr(c) / 4 + m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
          expect(got[i * n + j], `[${i}, ${j}] of ${m}x${k}x${n}`).toBe(s + bias[j]);
        }
    }
  });
});

describe('wasm elementwise over the thread pool', () => {
  it('a long run split over the threads gives the bits of short runs on one thread: by rows, by columns, broadcast, strided', async () => {
    await setBackend('wasm');
    /** f on column blocks of x and y (each under the split threshold, so on one thread), side by side. */
    const inPieces = (f: (x: Tensor, y: Tensor) => Tensor, x: Tensor, y: Tensor) => {
      const [rows, cols] = x.shape as [number, number];
      const width = Math.max(1, Math.floor(4000 / rows));
      const parts: Tensor[] = [];
      for (let c = 0; c < cols; c += width) {
        const w = Math.min(width, cols - c);
        const yc = y.shape[1] === 1 ? y : slice(y, [0, c], [y.shape[0] as number, w]);
        parts.push(f(slice(x, [0, c], [rows, w]), yc));
      }
      return concat(parts, 1);
    };
    const f = (x: Tensor, y: Tensor) => tanh(mul(sigmoid(add(x, y)), 3));
    // Values from the host, so that no kernel under test made them.
    const data = (shape: [number, number], seed: number) =>
      tensor(
        Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => Math.sin(i * 0.37 + seed) * 4),
        shape,
      );
    const cases: Array<[string, Tensor, Tensor]> = [
      ['rows', data([3, 5001], 1), data([3, 5001], 2)],
      ['one row: columns, a ragged last group', data([1, 20003], 3), data([1, 20003], 4)],
      ['a broadcast column', data([300, 61], 5), data([300, 1], 6)],
      ['strided (transposed)', transpose(data([97, 150], 7)), data([150, 97], 8)],
    ];
    for (const [name, x, y] of cases) {
      const whole = await f(x, y).data();
      const pieces = await inPieces(f, x, y).data();
      expect(new Uint32Array(whole.buffer), name).toEqual(new Uint32Array(pieces.buffer));
    }
  });
});

describe('default backend', () => {
  it('software adapters are recognised from their info', () => {
    const info = (description: string, vendor = '') => ({ vendor, architecture: '', description });
    expect(isSoftwareAdapter(info('llvmpipe (LLVM 15.0.6, 256 bits)', 'mesa'))).toBe(true);
    expect(isSoftwareAdapter(info('Lavapipe'))).toBe(true);
    expect(isSoftwareAdapter(info('SwiftShader Device (Subzero)', 'google'))).toBe(true);
    expect(isSoftwareAdapter(info('NVIDIA GeForce RTX 4090', 'nvidia'))).toBe(false);
  });
  const firstUse = (backend: string) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=wgru-source', '-e', "import('@wgru/tensor').then((t) => t.zeros([1]))"],
      { env: { ...process.env, WGRU_BACKEND: backend }, encoding: 'utf8', timeout: 60_000 },
    );
  it('with no setBackend call and no hardware adapter (none here, or a software one), the first use picks wasm and says so', () => {
    const stderr = firstUse('').stderr;
    // Where the machine has a hardware adapter, the first use picks WebGPU on it instead.
    if (/wgru: using webgpu/.test(stderr)) expect(stderr).not.toMatch(/lavapipe|llvmpipe|swiftshader|software/i);
    else expect(stderr).toContain('wgru: using wasm');
  });
  it('WGRU_BACKEND=wasm forces it', () => {
    expect(firstUse('wasm').stderr).toContain('wgru: using wasm');
  });
});
