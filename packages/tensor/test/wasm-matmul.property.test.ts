/**
 * The wasm backend's SIMD matrix product (`src/wasm/matmul`) against a float64 reference on random
 * shapes: m, n, k from 1 (GEMV and outer products) through sizes that cross the micro-tile (6 x 8),
 * the packed blocks (MC 72 rows, KC 512 steps, NC 1024 columns) and their edges; A and B read
 * row-major or transposed (swapped strides) or with padded rows, B packed or (few rows of A) read in
 * place, one-row products through the GEMV kernel; with and without bias; on one
 * thread and split over a pool of worker threads. The plain three-loop version must agree too.
 *
 * Tolerance: each output is a float32 dot product of k terms, so its error is at most about
 * k rounding errors of the magnitudes involved: k * 2^-23 * (|A| @ |B| + |bias|), plus a tiny floor.
 */
import { spawnSync } from 'node:child_process';
import binaryen from 'binaryen';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FC_SEED } from '../../../test-support/backends.js';
import { createSgemm, type Sgemm } from '../src/wasm/matmul/index.js';
import { plainSgemm } from '../src/wasm/matmul/plain.js';
import { createThreadPool, type ThreadPool } from '../src/wasm/threads/index.js';

const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024, shared: true });
const SCRATCH = 8 << 20; // scratch from 8 MiB up; operands below
const scratch = (bytes: number) => {
  if (SCRATCH + bytes > memory.buffer.byteLength)
    memory.grow(Math.ceil((SCRATCH + bytes - memory.buffer.byteLength) / 65536));
  return SCRATCH;
};
const pool = (await createThreadPool(memory, 3)) as ThreadPool;
afterAll(() => pool.close());

interface Case {
  m: number;
  n: number;
  k: number;
  aT: boolean; // A stored as its transpose [k, m]
  bT: boolean; // B stored as its transpose [n, k]
  pad: number; // extra elements at the end of each stored row
  bias: boolean;
  seed: number;
}

/** Lays the case out in memory from byte 64 on and returns the Sgemm arguments and the expected C. */
function setUp(c: Case) {
  const f = new Float32Array(memory.buffer);
  let rnd = c.seed;
  const next = () => {
    rnd = (Math.imul(rnd, 1103515245) + 12345) | 0;
    return ((rnd >>> 8) / (1 << 24)) * 2 - 1;
  };
  let top = 64 / 4;
  const place = (rows: number, cols: number, transposed: boolean) => {
    const [sr, sc] = transposed ? [cols, rows] : [rows, cols]; // stored shape
    const pitch = sc + c.pad;
    const at = top;
    top += sr * pitch + 3; // odd gaps: operands at any 4-byte offset
    for (let i = 0; i < sr * pitch; i++) f[at + i] = next();
    const strides = transposed ? [1, pitch] : [pitch, 1];
    return {
      ptr: at * 4,
      rs: strides[0],
      cs: strides[1],
      get: (i: number, j: number) => f[at + i * strides[0] + j * strides[1]],
    };
  };
  const A = place(c.m, c.k, c.aT);
  const B = place(c.k, c.n, c.bT);
  const biasAt = top;
  top += c.n + 1;
  for (let j = 0; j < c.n; j++) f[biasAt + j] = next();
  const cAt = top;
  f.fill(Number.NaN, cAt, cAt + c.m * c.n); // every output must be written
  const want = new Float64Array(c.m * c.n);
  const bound = new Float64Array(c.m * c.n);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = c.bias ? f[biasAt + j] : 0;
      let mag = Math.abs(s);
      for (let p = 0; p < c.k; p++) {
        s += A.get(i, p) * B.get(p, j);
        mag += Math.abs(A.get(i, p) * B.get(p, j));
      }
      want[i * c.n + j] = s;
      bound[i * c.n + j] = (c.k + 1) * 2 ** -23 * mag + 1e-30;
    }
  }
  const args = [c.m, c.n, c.k, A.ptr, A.rs, A.cs, B.ptr, B.rs, B.cs, cAt * 4, c.bias ? biasAt * 4 : 0] as const;
  const check = () => {
    const got = new Float32Array(memory.buffer, cAt * 4, c.m * c.n);
    for (let i = 0; i < got.length; i++) {
      if (!(Math.abs(got[i] - want[i]) <= bound[i])) {
        throw new Error(`C[${Math.floor(i / c.n)}, ${i % c.n}] = ${got[i]}, want ${want[i]} ± ${bound[i]}`);
      }
    }
  };
  return { args, check };
}

const dim = (max: number) =>
  fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 9 }), weight: 3 },
    { arbitrary: fc.integer({ min: 10, max }), weight: 1 },
  );
const cases = (maxM: number, maxN: number, maxK: number) =>
  fc.record({
    m: dim(maxM),
    n: dim(maxN),
    k: dim(maxK),
    aT: fc.boolean(),
    bT: fc.boolean(),
    pad: fc.constantFrom(0, 0, 3),
    bias: fc.boolean(),
    seed: fc.integer(),
  });

function agrees(sgemm: Sgemm, runs: number, arb: fc.Arbitrary<Case>): void {
  fc.assert(
    fc.property(arb, (c) => {
      const { args, check } = setUp(c);
      sgemm(...args);
      check();
    }),
    { seed: FC_SEED, numRuns: runs },
  );
}

describe('wasm sgemm', () => {
  const one = createSgemm(memory, scratch);
  it('agrees with float64 on random shapes, strides and bias (one thread)', () => {
    agrees(one, 150, cases(60, 70, 600));
  });
  it('crosses the NC column block and the MC row block, B packed or read in place', () => {
    for (const c of [
      { m: 3, n: 1030, k: 5 },
      { m: 2, n: 1030, k: 600 },
      { m: 101, n: 9, k: 513 },
      { m: 1, n: 1, k: 1100 },
      { m: 1, n: 45, k: 703 }, // one row (gemv.ts): 11 vectors and 1 column; 175 passes of 4 rows and 3 single rows
    ]) {
      for (const bT of [false, true]) {
        const { args, check } = setUp({ ...c, aT: false, bT, pad: 0, bias: true, seed: 7 });
        one(...args);
        check();
      }
    }
  });
  it('k = 0 gives the bias (or zeros)', () => {
    for (const bias of [true, false]) {
      const { args, check } = setUp({ m: 3, n: 5, k: 0, aT: false, bT: false, pad: 0, bias, seed: 1 });
      one(...args);
      check();
    }
  });
  it('agrees when split over worker threads', () => {
    agrees(createSgemm(memory, scratch, pool, 1), 60, cases(40, 40, 100));
  });
  it('works on a plain (not shared) memory', () => {
    const plain = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const f = new Float32Array(plain.buffer);
    f.set([1, 2, 3, 4, 5, 6], 16); // A [2, 3] at byte 64
    f.set([1, 0, 0, 1, 1, 1], 32); // B [3, 2] at byte 128
    createSgemm(plain, () => 4096)(2, 2, 3, 64, 3, 1, 128, 2, 1, 256, 0);
    expect(Array.from(f.subarray(64, 68))).toEqual([4, 5, 10, 11]);
  });
  it('the relaxed-SIMD FMA kernels agree where the engine validates them', () => {
    // Node 20 validates relaxed SIMD only behind a flag: run the FMA build in a child process with it.
    const script = [
      "import('./packages/tensor/src/wasm/matmul/index.ts').then(async ({ createSgemm }) => {",
      "  const { sgemmModule } = await import('./packages/tensor/src/wasm/matmul/module.ts');",
      '  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });',
      '  const f = new Float32Array(memory.buffer);',
      '  const [m, n, k] = [13, 21, 37];',
      '  for (let i = 0; i < m * k + k * n; i++) f[16 + i] = Math.sin(i);',
      '  const a = 64, b = 64 + 4 * m * k, c = b + 4 * k * n;',
      '  createSgemm(memory, () => 1 << 20)(m, n, k, a, k, 1, b, n, 1, c, 0);',
      '  let err = 0;',
      '  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {',
      '    let s = 0;',
      '    for (let p = 0; p < k; p++) s += f[a / 4 + i * k + p] * f[b / 4 + p * n + j];',
      '    err = Math.max(err, Math.abs(s - f[c / 4 + i * n + j]));',
      '  }',
      '  console.log(sgemmModule(true).fma, err < 1e-4);',
      '});',
    ].join('\n');
    const flags = ['--experimental-wasm-relaxed-simd', '--import', 'tsx', '--conditions=wgru-source', '-e', script];
    const r = spawnSync(process.execPath, flags, { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout.trim()).toBe('true true');
  });
  it('the plain version agrees', () => {
    agrees(plainSgemm(memory), 40, cases(20, 20, 40));
  });
});

describe('wasm thread pool', () => {
  it('hands chunks to whichever thread is free, many times in a row, and every product is right', () => {
    // Back-to-back products: offers claimed by a spinning worker, taken back from a sleeping one.
    const sgemm = createSgemm(memory, scratch, pool, 1);
    for (let i = 0; i < 300; i++) {
      const { args, check } = setUp({
        m: 7,
        n: 40 + (i % 9),
        k: 3 + (i % 5),
        aT: false,
        bT: i % 2 === 1,
        pad: 0,
        bias: i % 3 === 0,
        seed: i,
      });
      sgemm(...args);
      check();
    }
  });
  it('reports a failure as an Error, in the caller or in a worker', () => {
    const sgemm = createSgemm(memory, scratch, pool, 1);
    const outside = memory.buffer.byteLength + 4096; // B past the end of memory: a trap in every chunk
    expect(() => sgemm(4, 64, 4, 64, 4, 1, outside, 64, 1, 4096, 0)).toThrow(/memory access out of bounds/);
    // A kernel that traps on a worker only; the caller's chunk is long, so a worker claims the other.
    const bytes = binaryen.parseText(`(module
      (global $g (mut i32) (i32.const 0))
      (func (export "f") (param $chunk i32) (param $thread i32) (local $i i32)
        (if (local.get $thread) (then unreachable))
        (loop $spin
          (global.set $g (i32.add (global.get $g) (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $spin (i32.lt_u (local.get $i) (i32.const 100000000))))))`);
    const trapsOnWorkers = new WebAssembly.Module(new Uint8Array(bytes.emitBinary()));
    bytes.dispose();
    expect(() => pool.run(trapsOnWorkers, 'f', 2, [])).toThrow(/failed in a worker: .*unreachable/);
    const { args, check } = setUp({ m: 8, n: 64, k: 8, aT: false, bT: false, pad: 0, bias: false, seed: 3 });
    sgemm(...args); // the pool still works after a failure
    check();
  });
  it('does not keep the process alive', () => {
    const script = [
      "import('./packages/tensor/src/wasm/threads/index.ts').then(async ({ createThreadPool }) => {",
      '  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });',
      '  const pool = await createThreadPool(memory, 2);',
      "  console.log('pool', pool.size);",
      '});',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=wgru-source', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout.trim()).toBe('pool 2');
    expect(r.status).toBe(0);
  });
});
