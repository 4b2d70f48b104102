/**
 * The WebGPU matmul kernels (src/webgpu/kernels/matmul*.ts), path by path, against the float64 CPU
 * oracle. matmul.property.test.ts checks the op's semantics (broadcasting, 1-D operands, views,
 * int32); this file makes sure that every kernel variant is exercised and right: the texture path
 * (both tile sizes, vec4 and strided packing, batch layers), the buffer path in each load mode (A
 * row-major 'k4', A^T 'm4', B row-major 'n4', B^T 'k4', strided 's') and tile height (1, 2, 4, 8
 * rows per invocation), and the generic scalar path. Sizes sit on and around the tile edges
 * (1, 3, 4, 5, 8, 15, 16, 17, ... 129), K is often not a multiple of 4.
 *
 * Tolerance: each output is a dot product of k float32 terms, so its error is at most about k
 * rounding errors of the magnitudes involved: k * 2^-23 * (|A| @ |B|).
 */
import {
  abs,
  add,
  addInto,
  type Backend,
  engineStats,
  flush,
  matmul,
  reshape,
  slice,
  type Tensor,
  transpose,
} from '@wgru/tensor';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MatmulPath, type MatmulPlan, matmulTuning } from '../src/webgpu/kernels/matmul-plan.js';
import {
  type Bag,
  type Bound,
  deviceUnderTest,
  DUT_NAME,
  EXACT,
  expectClose,
  F32_TINY,
  FC_SEED,
  onDut,
  onOracle,
  ULP,
  withBag,
} from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});
afterEach(() => {
  matmulTuning.path = 'auto';
  matmulTuning.onPlan = null;
});

/** Deterministic values from a seed (mulberry32), so that big operands cost no shrinking. */
function values(seed: number, n: number, kind: 'float' | 'int' = 'float'): number[] {
  let s = seed >>> 0;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = kind === 'int' ? Math.floor(u * 19) - 9 : Math.fround(u * 4 - 2);
  }
  return out;
}

/**
 * How an operand is stored and viewed. For A (logical [m, k]) and B (logical [k, n]) alike:
 * 'plain' is row-major; 'transposed' is stored as the transpose and read through transpose();
 * `pad` extra columns are stored and sliced off from column `shift` (a view with a row stride
 * that is not the row length, and an offset).
 */
interface Layout {
  transposed: boolean;
  pad: number;
  shift: number;
}

const layoutArb: fc.Arbitrary<Layout> = fc
  .record({
    transposed: fc.constantFrom(false, false, true),
    pad: fc.oneof(
      { arbitrary: fc.constant(0), weight: 3 },
      { arbitrary: fc.constant(4), weight: 1 },
      { arbitrary: fc.integer({ min: 1, max: 5 }), weight: 2 },
    ),
  })
  .chain((l) => fc.integer({ min: 0, max: l.pad }).map((shift) => ({ ...l, shift })));

/** Batch layouts: none; the same on both sides; A's broadcast over B's; both broadcast. */
type BatchKind = 'none' | 'both' | 'aOnly' | 'cross';

/** Sizes on and around the tile edges (rows per invocation 1/2/4/8/16, columns 4/8/16). */
const edge = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20, 24, 31, 32, 33, 36);
const big = fc.constantFrom(63, 64, 65, 127, 128, 129);
const sizeArb = fc.oneof({ arbitrary: edge, weight: 4 }, { arbitrary: big, weight: 1 });

const caseArb = fc
  .record({
    m: sizeArb,
    k: sizeArb,
    n: sizeArb,
    batchKind: fc.constantFrom<BatchKind>('none', 'none', 'both', 'aOnly', 'cross'),
    batch: fc.integer({ min: 2, max: 3 }),
    a: layoutArb,
    b: layoutArb,
    path: fc.constantFrom<MatmulPath>('auto', 'texture', 'texture', 'buffer', 'buffer', 'generic'),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .filter((c) => c.m * c.k * c.n * (c.batchKind === 'none' ? 1 : c.batch * c.batch) <= 3_000_000);

/**
 * Makes the operand with logical shape [...batch, rows, cols] on the device under test and on the
 * oracle, from the same values, through the same views.
 */
function makeOperand(
  bag: Bag,
  seed: number,
  batch: number[],
  rows: number,
  cols: number,
  l: Layout,
): { dut: Tensor; ref: Tensor } {
  // Stored: [...batch, rows, cols + pad], or its last two axes swapped when transposed.
  const stored = l.transposed ? [...batch, cols + l.pad, rows] : [...batch, rows, cols + l.pad];
  const vals = values(
    seed,
    stored.reduce((p, d) => p * d, 1),
  );
  const view = (t: Tensor): Tensor => {
    let v = t;
    const r = v.rank;
    if (l.transposed) {
      // Slice the padded axis (stored second to last), then swap.
      if (l.pad > 0) v = bag.add(slice(v, [...batch.map(() => 0), l.shift, 0], [...batch.map(() => -1), cols, rows]));
      return bag.add(transpose(v, [...Array(r - 2).keys(), r - 1, r - 2]));
    }
    if (l.pad > 0) v = bag.add(slice(v, [...batch.map(() => 0), 0, l.shift], [...batch.map(() => -1), rows, cols]));
    return v;
  };
  return { dut: view(bag.add(onDut(dut, vals, stored))), ref: view(bag.add(onOracle(vals, stored))) };
}

/** Runs one matmul on both sides and compares within k float32 roundings of |A| @ |B|. */
async function check(
  bag: Bag,
  what: string,
  A: { dut: Tensor; ref: Tensor },
  B: { dut: Tensor; ref: Tensor },
  k: number,
): Promise<void> {
  const got = bag.add(matmul(A.dut, B.dut));
  const want = bag.add(matmul(A.ref, B.ref));
  const mags = await bag.add(matmul(bag.add(abs(A.ref)), bag.add(abs(B.ref)))).data();
  const bound: Bound = (_r, i) => k * ULP * mags[i] + F32_TINY;
  await expectClose(what, got, want, bound, 'float32');
}

const planName = (p: MatmulPlan): string =>
  p.path === 'texture'
    ? `texture ${p.TM}x${4 * p.TN}${p.aBuffer ? ' A:buffer' : p.aVec ? ' A:vec' : ''}` +
      `${p.bVec ? ' B:vec' : ''}${p.oVec ? ' O:vec' : ''}`
    : `buffer ${p.TM}x${4 * p.TN} A:${p.aMode} B:${p.bMode}${p.oVec ? ' O:vec' : ''}`;

describe.skipIf(DUT_NAME !== 'webgpu')('WebGPU matmul kernels against the float64 oracle', () => {
  it('every path, layout, tile edge and batch broadcast', { timeout: 600_000 }, async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(caseArb, (c) =>
        withBag(async (bag) => {
          const { m, k, n } = c;
          const [aBatch, bBatch] =
            c.batchKind === 'none'
              ? [[], []]
              : c.batchKind === 'both'
                ? [[c.batch], [c.batch]]
                : c.batchKind === 'aOnly'
                  ? [[c.batch], []]
                  : [
                      [c.batch, 1],
                      [1, c.batch],
                    ];
          const A = makeOperand(bag, c.seed, aBatch, m, k, c.a);
          const B = makeOperand(bag, c.seed + 1, bBatch, k, n, c.b);
          matmulTuning.path = c.path;
          const plans: string[] = [];
          matmulTuning.onPlan = (p) => plans.push(planName(p));
          const side = (x: typeof A, o: typeof c.a) =>
            `[${x.dut.shape.join(', ')}]${o.transposed ? 'ᵀ' : ''}` +
            `${o.pad ? ` (padded ${o.pad}, from ${o.shift})` : ''}`;
          const what = `${side(A, c.a)} @ ${side(B, c.b)} forced ${c.path}`;
          try {
            await check(bag, `${what} -> ${plans.join(', ')}`, A, B, k);
          } finally {
            matmulTuning.path = 'auto';
            matmulTuning.onPlan = null;
          }
          for (const p of plans) seen.add(p.replace(/ O:vec/, ''));
        }),
      ),
      { seed: FC_SEED, numRuns: 80 },
    );
    // Both families were reached (the grid below pins every mode).
    const all = [...seen].join('\n');
    expect(all).toContain('texture');
    expect(all).toContain('buffer');
  });

  it('a grid over tile heights and layouts reaches every buffer load mode', async () => {
    const seen = new Set<string>();
    const layouts: Layout[] = [
      { transposed: false, pad: 0, shift: 0 },
      { transposed: true, pad: 0, shift: 0 },
      { transposed: false, pad: 4, shift: 0 },
      { transposed: true, pad: 1, shift: 1 },
    ];
    await withBag(async (bag) => {
      matmulTuning.path = 'buffer';
      matmulTuning.onPlan = (p) => seen.add(planName(p));
      for (const [m, k, n] of [
        [1, 8, 12],
        [2, 12, 8],
        [3, 7, 5],
        [4, 16, 20],
        [8, 12, 16],
        [9, 20, 12],
        [17, 8, 13],
        [12, 7, 8],
      ] as const) {
        for (const la of layouts) {
          for (const lb of layouts) {
            const A = makeOperand(bag, m * 31 + k, [], m, k, la);
            const B = makeOperand(bag, n * 17 + k, [], k, n, lb);
            await check(
              bag,
              `buffer [${m}, ${k}] @ [${k}, ${n}] (${JSON.stringify(la)} @ ${JSON.stringify(lb)})`,
              A,
              B,
              k,
            );
          }
        }
      }
    });
    const all = [...seen].join('\n');
    for (const want of [
      'buffer 1x4',
      'buffer 2x4',
      'buffer 4x4',
      'buffer 8x4',
      'A:k4',
      'A:m4',
      'A:s',
      'B:n4',
      'B:k4',
      'B:s',
      'O:vec',
      'A:k4 B:n4',
      'A:m4 B:k4',
    ]) {
      expect(all, `no case reached '${want}'`).toContain(want);
    }
  });

  it("the GRU's shapes pick the intended kernels and agree with the oracle", async () => {
    await withBag(async (bag) => {
      const plain = { transposed: false, pad: 0, shift: 0 };
      const tr = { transposed: true, pad: 0, shift: 0 };
      const cases: { what: string; m: number; k: number; n: number; a: Layout; b: Layout; plan: RegExp }[] = [
        // Batch-1 generation: one row, spread over N/4 invocations.
        { what: 'generation x @ W', m: 1, k: 256, n: 768, a: plain, b: plain, plan: /^buffer 1x4 A:k4 B:n4/ },
        { what: 'h @ U', m: 32, k: 128, n: 384, a: plain, b: plain, plan: /^buffer 8x4 A:k4 B:n4/ },
        // Backward: dA = dC @ B^T and dB = A^T @ dC, read in place with vec4 loads.
        { what: 'dh = dG @ U^T', m: 32, k: 384, n: 128, a: plain, b: tr, plan: /^buffer 8x4 A:k4 B:k4/ },
        { what: 'dU = h^T @ dG', m: 128, k: 32, n: 384, a: tr, b: plain, plan: /^buffer 8x4 A:m4 B:n4/ },
        // Whole-sequence input projection: big enough for the texture path.
        { what: 'X @ W (T*B rows)', m: 2048, k: 64, n: 384, a: plain, b: plain, plan: /^texture 16x16 A:vec B:vec/ },
      ];
      for (const c of cases) {
        const A = makeOperand(bag, 7, [], c.m, c.k, c.a);
        const B = makeOperand(bag, 8, [], c.k, c.n, c.b);
        const plans: MatmulPlan[] = [];
        matmulTuning.onPlan = (p) => plans.push(p);
        const before = engineStats().dispatches;
        await check(bag, c.what, A, B, c.k);
        const dispatches = engineStats().dispatches - before;
        matmulTuning.onPlan = null;
        expect(plans.length, c.what).toBe(1);
        expect(planName(plans[0] as MatmulPlan), c.what).toMatch(c.plan);
        // The device side ran the matmul only (the oracle's and |A| @ |B| run on the CPU).
        expect(dispatches, c.what).toBe((plans[0] as MatmulPlan).path === 'texture' ? 3 : 1);
      }
    });
  });

  it('texture path, 16 x 16 tiles: edges past 128 rows and columns, every layout', async () => {
    await withBag(async (bag) => {
      matmulTuning.path = 'texture';
      const plans: string[] = [];
      matmulTuning.onPlan = (p) => plans.push(planName(p));
      const layouts: Layout[] = [
        { transposed: false, pad: 0, shift: 0 },
        { transposed: true, pad: 0, shift: 0 },
        { transposed: false, pad: 3, shift: 1 },
        { transposed: true, pad: 2, shift: 2 },
      ];
      for (const [m, k, n] of [
        [129, 5, 130],
        [128, 66, 131],
        [131, 33, 128],
      ] as const) {
        for (const [i, la] of layouts.entries()) {
          const lb = layouts[(i + m) % layouts.length] as Layout;
          const A = makeOperand(bag, m + i, [], m, k, la);
          const B = makeOperand(bag, n + i, [], k, n, lb);
          await check(
            bag,
            `texture [${m}, ${k}] @ [${k}, ${n}] (${JSON.stringify(la)} @ ${JSON.stringify(lb)})`,
            A,
            B,
            k,
          );
        }
      }
      expect(plans.every((p) => p.startsWith('texture 16x16'))).toBe(true);
    });
  });

  it('many texture-path matmuls in one batch reuse pooled textures correctly', async () => {
    await withBag(async (bag) => {
      matmulTuning.path = 'texture';
      const plain = { transposed: false, pad: 0, shift: 0 };
      const A = makeOperand(bag, 1, [], 40, 36, plain);
      const B = makeOperand(bag, 2, [], 36, 36, plain);
      const C = makeOperand(bag, 3, [], 36, 40, plain);
      const D = makeOperand(bag, 4, [], 40, 36, plain);
      // A chain recorded before any read: each product packs into textures that earlier products
      // of the same batch used and released (two shapes alternate, so both pool keys recur).
      const before = engineStats().submits;
      let x = A.dut;
      let r = A.ref;
      for (let i = 0; i < 4; i++) {
        x = bag.add(matmul(x, B.dut));
        r = bag.add(matmul(r, B.ref));
        x = bag.add(matmul(bag.add(matmul(x, C.dut)), D.dut));
        r = bag.add(matmul(bag.add(matmul(r, C.ref)), D.ref));
      }
      const y = await x.data();
      expect(engineStats().submits - before).toBe(1);
      const want = await r.data();
      // Compare relative to the magnitude: these are long chains of products.
      let worst = 0;
      const scale = Math.max(...Array.from(want, Math.abs));
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(y[i] - want[i]) / scale);
      expect(worst).toBeLessThan(1e-4);
    });
  });

  it('texture path: batch layers, broadcast layers, and more than 65,535 batch matrices', async () => {
    await withBag(async (bag) => {
      matmulTuning.path = 'texture';
      const plain = { transposed: false, pad: 0, shift: 0 };
      // [3, 1, m, k] @ [1, 2, k, n] -> [3, 2, m, n]: A has 3 layers, B has 2.
      const A = makeOperand(bag, 11, [3, 1], 17, 9, plain);
      const B = makeOperand(bag, 12, [1, 2], 9, 13, { transposed: true, pad: 0, shift: 0 });
      await check(bag, 'texture [3,1,17,9] @ [1,2,9,13]ᵀ', A, B, 9);
      // 256 x 256 = 65,536 output matrices: two dispatches along z.
      const a = values(5, 256 * 2, 'int');
      const b = values(6, 256 * 2, 'int');
      const got = bag.add(matmul(bag.add(onDut(dut, a, [256, 1, 1, 2])), bag.add(onDut(dut, b, [1, 256, 2, 1]))));
      const want = bag.add(matmul(bag.add(onOracle(a, [256, 1, 1, 2])), bag.add(onOracle(b, [1, 256, 2, 1]))));
      await expectClose('texture [256,1,1,2] @ [1,256,2,1]', got, want, EXACT);
    });
  });

  it('texture path: zero padding of k never multiplies Inf by 0', async () => {
    await withBag(async (bag) => {
      matmulTuning.path = 'texture';
      // k = 5: the last texel of each A row holds one value and three zeros of padding; B's last
      // row holds Inf. Only real products may meet the Inf.
      const m = 3;
      const k = 5;
      const n = 6;
      const a = Array.from({ length: m * k }, (_, i) => (i % k === k - 1 ? (i < k ? 0 : 1) : 0.5));
      const b = Array.from({ length: k * n }, (_, i) => (Math.floor(i / n) === k - 1 ? Number.POSITIVE_INFINITY : 1));
      const got = bag.add(matmul(bag.add(onDut(dut, a, [m, k])), bag.add(onDut(dut, b, [k, n]))));
      const want = bag.add(matmul(bag.add(onOracle(a, [m, k])), bag.add(onOracle(b, [k, n]))));
      // Row 0 has a real 0 * Inf (NaN on both sides); rows 1 and 2 are +Inf.
      await expectClose('texture matmul with Inf in the last row of B', got, want, EXACT);
    });
  });

  it('int32 runs on the buffer kernels in every mode, exactly', async () => {
    await withBag(async (bag) => {
      for (const path of ['auto', 'texture', 'buffer', 'generic'] as const) {
        for (const [m, k, n, transposedB] of [
          [1, 8, 12, false],
          [5, 12, 9, true],
          [9, 7, 4, false],
          [33, 16, 20, true],
        ] as const) {
          matmulTuning.path = path;
          const a = values(m * 100 + k, m * k, 'int');
          const b = values(n * 100 + k, k * n, 'int');
          const bStored = transposedB ? [n, k] : [k, n];
          const Bd = bag.add(onDut(dut, b, bStored, 'int32'));
          const Br = bag.add(onOracle(b, bStored, 'int32'));
          const got = bag.add(
            matmul(bag.add(onDut(dut, a, [m, k], 'int32')), transposedB ? bag.add(transpose(Bd)) : Bd),
          );
          const want = bag.add(
            matmul(bag.add(onOracle(a, [m, k], 'int32')), transposedB ? bag.add(transpose(Br)) : Br),
          );
          await expectClose(
            `int32 [${m}, ${k}] @ [${k}, ${n}]${transposedB ? 'ᵀ' : ''} (${path})`,
            got,
            want,
            EXACT,
            'int32',
          );
        }
      }
    });
  });

  it('k = 0 gives zeros on every path', async () => {
    await withBag(async (bag) => {
      for (const path of ['auto', 'texture', 'buffer', 'generic'] as const) {
        matmulTuning.path = path;
        const got = await bag.add(matmul(bag.add(onDut(dut, [], [3, 0])), bag.add(onDut(dut, [], [0, 5])))).data();
        expect(Array.from(got), path).toEqual(new Array(15).fill(0));
      }
    });
  });
});

describe.skipIf(DUT_NAME !== 'webgpu')(
  'packed B operands kept between products (a recurrence multiplying by U at every step)',
  () => {
    const [m, k, n] = [32, 256, 128]; // m k n = 2^20: the texture path once B is packed
    const bound: Bound = (r) => k * ULP * (Math.abs(r) + 64) + F32_TINY;

    it('packs U once while it is unchanged, again after an in-place write, never stale', async () => {
      await withBag(async (bag) => {
        const uValues = values(7, k * n);
        const U = bag.add(onDut(dut, uValues, [k, n]));
        let Uref = bag.add(onOracle(uValues, [k, n]));
        const product = async (i: number, what: string): Promise<number> => {
          const a = values(100 + i, m * k);
          const before = engineStats().dispatches;
          const got = bag.add(matmul(bag.add(onDut(dut, a, [m, k])), U));
          const dispatches = engineStats().dispatches - before;
          await expectClose(what, got, bag.add(matmul(bag.add(onOracle(a, [m, k])), Uref)), bound);
          return dispatches;
        };
        await product(0, 'first use of U (noted)');
        // From the second use: A read in place, U packed (once) and multiplied.
        expect(await product(1, 'second use (U packed and kept)')).toBe(2);
        expect(await product(2, 'third use (packed U reused: one dispatch)')).toBe(1);
        expect(await product(3, 'fourth use')).toBe(1);
        // An in-place write (as an optimizer step makes) invalidates the packed copy.
        addInto(U, 0.5);
        Uref = bag.add(add(Uref, 0.5));
        await product(4, 'after U += 0.5 (noted again)');
        expect(await product(5, 'after U += 0.5, packed afresh')).toBe(2);
        expect(await product(6, 'after U += 0.5, reused')).toBe(1);
        // U^T is another layout of the same storage: its own packed copy, also right.
        const g = values(9, m * n);
        for (let i = 0; i < 3; i++) {
          await expectClose(
            `g @ U^T, use ${i + 1}`,
            bag.add(matmul(bag.add(onDut(dut, g, [m, n])), bag.add(transpose(U)))),
            bag.add(matmul(bag.add(onOracle(g, [m, n])), bag.add(transpose(Uref)))),
            (r) => n * ULP * (Math.abs(r) + 64) + F32_TINY,
          );
        }
      });
    });

    it("a new tensor in a freed tensor's buffer is packed afresh", async () => {
      for (let round = 0; round < 3; round++) {
        await withBag(async (bag) => {
          const uValues = values(round + 20, k * n);
          const U = onDut(dut, uValues, [k, n]); // freed at the end of the round; its buffer is reused
          const Uref = bag.add(onOracle(uValues, [k, n]));
          const a = values(3, m * k);
          for (let i = 0; i < 3; i++) {
            await expectClose(
              `round ${round}, use ${i + 1}`,
              bag.add(matmul(bag.add(onDut(dut, a, [m, k])), U)),
              bag.add(matmul(bag.add(onOracle(a, [m, k])), Uref)),
              bound,
            );
          }
          U.dispose();
        });
      }
    });
  },
);

describe(`matmul with a bias (the epilogue) on ${DUT_NAME}`, () => {
  afterEach(() => {
    matmulTuning.path = 'auto';
  });

  it('a @ b + bias on every path: layouts, batches, a strided bias, int32; no extra kernel', async () => {
    const cases = fc.record({
      m: fc.integer({ min: 1, max: 40 }),
      k: fc.integer({ min: 1, max: 40 }),
      n: fc.integer({ min: 1, max: 40 }),
      batch: fc.constantFrom([], [3], [2, 2]),
      transposedB: fc.boolean(),
      biasStride: fc.constantFrom(1, 3),
      path: fc.constantFrom<MatmulPath>('auto', 'texture', 'buffer', 'generic'),
      int: fc.boolean(),
      seed: fc.integer({ min: 0, max: 1 << 20 }),
    });
    await fc.assert(
      fc.asyncProperty(cases, (c) =>
        withBag(async (bag) => {
          matmulTuning.path = c.path;
          const kind = c.int ? 'int' : 'float';
          const dtype = c.int ? 'int32' : 'float32';
          const a = values(c.seed, c.batch.reduce((x, y) => x * y, 1) * c.m * c.k, kind);
          const b = values(c.seed + 1, c.k * c.n, kind);
          const bias = values(c.seed + 2, c.n * c.biasStride, kind);
          const aShape = [...c.batch, c.m, c.k];
          const bStored = c.transposedB ? [c.n, c.k] : [c.k, c.n];
          // the bias as every biasStride-th element of a longer vector: column 0 of [n, stride]
          const biasOf = (t: Tensor) =>
            c.biasStride === 1 ? t : bag.add(reshape(bag.add(slice(t, [0, 0], [c.n, 1])), [c.n]));
          const onDutB = bag.add(onDut(dut, b, bStored, dtype));
          const onRefB = bag.add(onOracle(b, bStored, dtype));
          const biasD = biasOf(bag.add(onDut(dut, bias, c.biasStride === 1 ? [c.n] : [c.n, c.biasStride], dtype)));
          const biasR = biasOf(bag.add(onOracle(bias, c.biasStride === 1 ? [c.n] : [c.n, c.biasStride], dtype)));
          const aD = bag.add(onDut(dut, a, aShape, dtype));
          const bD = c.transposedB ? bag.add(transpose(onDutB)) : onDutB;
          flush(); // the operands' own kernels (a strided bias may be copied) before counting
          const before = engineStats().dispatches;
          const got = bag.add(matmul(aD, bD, biasD));
          const withBias = engineStats().dispatches - before;
          // the same product without bias, by a fresh copy of b (a first use too: packed B
          // operands are kept from their second use)
          const bCopy = bag.add(onDut(dut, b, bStored, dtype));
          const bD2 = c.transposedB ? bag.add(transpose(bCopy)) : bCopy;
          flush();
          const plain = engineStats().dispatches;
          bag.add(matmul(aD, bD2));
          const without = engineStats().dispatches - plain;
          if (DUT_NAME === 'webgpu') expect(withBias, 'the bias adds no kernel').toBe(without);
          const aR = bag.add(onOracle(a, aShape, dtype));
          const bR = c.transposedB ? bag.add(transpose(onRefB)) : onRefB;
          const want = bag.add(add(bag.add(matmul(aR, bR)), biasR));
          const mags = await bag.add(matmul(bag.add(abs(aR)), bag.add(abs(bR)))).data();
          const bound: Bound = (r, i) => c.k * ULP * mags[i] + ULP * Math.abs(r) + F32_TINY;
          const what =
            `[${aShape.join(', ')}] @ [${c.k}, ${c.n}]${c.transposedB ? 'ᵀ' : ''} + bias (stride ` +
            `${c.biasStride}, ${dtype}, ${c.path})`;
          await expectClose(what, got, want, c.int ? EXACT : bound, dtype);
        }),
      ),
      { seed: FC_SEED, numRuns: 40 },
    );
  });

  it('names a bias of the wrong shape', () => {
    const a = onDut(dut, [1, 2, 3, 4], [2, 2]);
    expect(() => matmul(a, a, onDut(dut, [1, 2, 3], [3]))).toThrow(
      /matmul: bias must be \[2\] \(one value per column of \[2, 2\] @ \[2, 2\]\), got \[3\]/,
    );
    a.dispose();
  });
});
