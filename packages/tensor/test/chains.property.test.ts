/**
 * Random programs of elementwise ops against the CPU oracle. On WebGPU, elementwise ops are not
 * run one by one: the engine fuses runs of them into generated kernels, keeps temporaries in
 * registers and stores only what is still needed. These programs poke at exactly that: values
 * reused by several later ops, broadcasting between them, intermediates disposed before anything
 * is read, reads in the middle of a run, in-place writes (assign) into values that later ops read,
 * and a reduction or matmul cutting a run in two.
 */
import {
  add,
  assign,
  type Backend,
  abs,
  matmul,
  maximum,
  minimum,
  mul,
  neg,
  relu,
  reshape,
  sigmoid,
  sub,
  sum,
  tanh,
  type Tensor,
  where,
  less,
} from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import {
  deviceUnderTest,
  DUT_NAME,
  expectClose,
  f32,
  FC_SEED,
  operandFor,
  operandPair,
  shapeArb,
  withBag,
  type Operand,
} from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});

const UNARY = { neg, abs, relu, tanh, sigmoid } as const;
/** Binary steps, built so that magnitudes cannot run away (mul scales by a tanh, at most 1). */
const BINARY = {
  add,
  sub,
  maximum,
  minimum,
  mulTanh: (a: Tensor, b: Tensor) => {
    const t = tanh(b);
    const r = mul(a, t);
    t.dispose();
    return r;
  },
  select: (a: Tensor, b: Tensor) => {
    const m = less(a, b);
    const r = where(m, a, b);
    m.dispose();
    return r;
  },
} as const;

/** One step of a program; operand choices are fractions in [0, 1) of the values made so far. */
type Step =
  | { kind: 'unary'; op: keyof typeof UNARY; x: number }
  | { kind: 'binary'; op: keyof typeof BINARY; x: number; y: number }
  | { kind: 'dispose'; x: number }
  | { kind: 'read'; x: number }
  | { kind: 'assign'; target: number; x: number }
  | { kind: 'reduce'; x: number };

const frac = fc.noBias(fc.integer({ min: 0, max: 999 })).map((i) => i / 1000);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('unary' as const),
      op: fc.constantFrom(...(Object.keys(UNARY) as Array<keyof typeof UNARY>)),
      x: frac,
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('binary' as const),
      op: fc.constantFrom(...(Object.keys(BINARY) as Array<keyof typeof BINARY>)),
      x: frac,
      y: frac,
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('dispose' as const), x: frac }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('read' as const), x: frac }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('assign' as const), target: frac, x: frac }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('reduce' as const), x: frac }), weight: 1 },
);

const programArb = shapeArb({ maxSize: 500 }).chain((out) =>
  fc.record({
    out: fc.constant(out),
    leaves: fc.array(operandFor(out, f32(-3, 3), false), { minLength: 1, maxLength: 4 }),
    steps: fc.array(stepArb, { minLength: 1, maxLength: 14 }),
  }),
);

/** The same program on both sides, value by value; `null` marks a disposed value. */
interface Side {
  values: Array<Tensor | null>;
}

function live(side: Side): number[] {
  return side.values.flatMap((v, i) => (v === null ? [] : [i]));
}

describe(`random elementwise programs on ${DUT_NAME} (fusion) against the oracle`, () => {
  it('agree with the CPU, whatever is reused, disposed, read or overwritten in between', async () => {
    await fc.assert(
      fc.asyncProperty(programArb, ({ leaves, steps }) =>
        withBag(async (bag) => {
          const sides: [Side, Side] = [{ values: [] }, { values: [] }];
          for (const leaf of leaves as Operand[]) {
            const p = operandPair(bag, dut, leaf);
            sides[0].values.push(p.dut as Tensor);
            sides[1].values.push(p.ref as Tensor);
          }
          const log: string[] = [
            `leaves ${leaves.map((l) => (l.kind === 'tensor' ? `[${l.shape.join(', ')}]` : l.value)).join(', ')}`,
          ];
          const at = (f: number) => {
            const ids = live(sides[0]);
            return ids.length === 0 ? -1 : ids[Math.floor(f * ids.length)];
          };
          for (const s of steps) {
            const x = at(s.kind === 'assign' ? s.target : s.x);
            if (x < 0) break;
            switch (s.kind) {
              case 'unary':
                log.push(`v${sides[0].values.length} = ${s.op}(v${x})`);
                for (const side of sides) side.values.push(bag.add(UNARY[s.op](side.values[x] as Tensor)));
                break;
              case 'binary': {
                const y = at(s.y);
                log.push(`v${sides[0].values.length} = ${s.op}(v${x}, v${y})`);
                for (const side of sides)
                  side.values.push(bag.add(BINARY[s.op](side.values[x] as Tensor, side.values[y] as Tensor)));
                break;
              }
              case 'dispose':
                // Keep at least one value alive.
                if (live(sides[0]).length < 2) break;
                log.push(`dispose v${x}`);
                for (const side of sides) {
                  side.values[x]?.dispose();
                  side.values[x] = null;
                }
                break;
              case 'read':
                log.push(`read v${x}`);
                await expectClose(
                  `${log.join('; ')}: v${x}`,
                  sides[0].values[x] as Tensor,
                  sides[1].values[x] as Tensor,
                  { rtol: 1e-4, atol: 1e-4 },
                );
                break;
              case 'assign': {
                // Overwrite the target in place with tanh of another value of the same shape.
                const t = sides[0].values[x] as Tensor;
                const src = live(sides[0]).find(
                  (i) => i !== x && (sides[0].values[i] as Tensor).shape.join() === t.shape.join(),
                );
                if (src === undefined) break;
                log.push(`assign(v${x}, tanh(v${src}))`);
                for (const side of sides) {
                  const v = tanh(side.values[src] as Tensor);
                  assign(side.values[x] as Tensor, v);
                  v.dispose();
                }
                break;
              }
              case 'reduce': {
                // A reduction and a matmul in the middle of a run: kernels that read fused
                // results, whose own results the run then uses again.
                log.push(`v${sides[0].values.length} = v${x} + sum(v${x}) + dot(v${x}, tanh(v${x}))`);
                for (const side of sides) {
                  const v = side.values[x] as Tensor;
                  const total = bag.add(sum(v));
                  const row = bag.add(reshape(v, [1, v.size]));
                  const col = bag.add(reshape(bag.add(tanh(v)), [v.size, 1]));
                  const dot = bag.add(reshape(bag.add(matmul(row, col)), []));
                  side.values.push(bag.add(add(bag.add(add(v, total)), dot)));
                }
                break;
              }
            }
          }
          // Every value still alive must agree (NaN cannot arise: no division, log or sqrt).
          for (const i of live(sides[0])) {
            await expectClose(`${log.join('; ')}: v${i}`, sides[0].values[i] as Tensor, sides[1].values[i] as Tensor, {
              rtol: 1e-4,
              atol: 1e-4,
            });
          }
        }),
      ),
      { seed: FC_SEED, numRuns: 60 },
    );
  });
});
