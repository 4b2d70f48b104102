/**
 * Property tests of the recurrent layers (GRU in both reset placements, LSTM, tanh RNN) on random
 * small configurations drawn by fast-check: 1–4 steps, 1–3 sequences, 1–3 features, 1–3 hidden
 * units, 1–3 layers, uni- or bidirectional, time- or batch-first, with or without initial states,
 * with or without per-sequence lengths (0 included: such a sequence keeps its initial state and
 * outputs zeros).
 *
 * The oracle is `reference/recurrent64.ts`: plain float64 loops for ONE layer in ONE direction,
 * validated on its own against ONNX's test vectors. The stacking is composed here, independently
 * of the library's driver: a layer's input is the concatenation of the previous layer's
 * directions, and final states sit layer-major at index k·D + d.
 *
 * What is checked:
 * a. forward in float64 on the CPU agrees with the oracle within 1e-10;
 * b. the tape's gradients (every parameter, the input, the initial states) agree with central
 *    finite differences (gradcheck, float64);
 * c. the same weights in float32, on each backend, give the float64 outputs and gradients within
 *    float32 tolerance;
 * d. gate pre-activations of ±120..±1000, where WGSL's own tanh is undefined: finite, and equal to
 *    the oracle;
 * e. backpropagation through 1,000 steps (the tape is walked without recursion).
 */
import { concat, gradcheck, noGrad, type Variable, variable } from '@wgru/autograd';
import { type Backend, cpuBackend, type DType, setBackend, type Tensor, tensorOn } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FC_SEED, forEachBackend } from '../../../test-support/backends.js';
import { gru64, lstm64, rnn64 } from '../src/reference/recurrent64.js';
import { GRU } from '../src/rnn/gru.js';
import { LSTM, LSTMCell } from '../src/rnn/lstm.js';
import { RNN, RNNCell } from '../src/rnn/rnn.js';

// ---------------------------------------------------------------------------------------------
// The configurations

const KINDS = ['gru', 'gru-resetAfter', 'lstm', 'rnn', 'gru-recurrentBias'] as const;
type Kind = (typeof KINDS)[number];
type Model = GRU | LSTM | RNN;

interface Case {
  kind: Kind;
  T: number;
  B: number;
  I: number;
  H: number;
  layers: number;
  bidirectional: boolean;
  batchFirst: boolean;
  bias: boolean;
  /** Pass h0 (for the LSTM: c0 is drawn on its own, so either may be missing). */
  h0: boolean;
  c0: boolean;
  lengths: number[] | null;
  /** Seed of the weights and of the inputs. */
  seed: number;
}

const stateCount = (kind: Kind) => (kind === 'lstm' ? 2 : 1);

function caseArb(kind: Kind): fc.Arbitrary<Case> {
  return fc
    .record({
      T: fc.integer({ min: 1, max: 4 }),
      B: fc.integer({ min: 1, max: 3 }),
      I: fc.integer({ min: 1, max: 3 }),
      H: fc.integer({ min: 1, max: 3 }),
      layers: fc.integer({ min: 1, max: 3 }),
      bidirectional: fc.boolean(),
      batchFirst: fc.boolean(),
      bias: fc.boolean(),
      h0: fc.boolean(),
      c0: fc.boolean(),
      withLengths: fc.boolean(),
      seed: fc.integer({ min: 0, max: 2 ** 20 }),
    })
    .chain(({ withLengths, ...c }) =>
      (withLengths
        ? fc.array(fc.integer({ min: 0, max: c.T }), { minLength: c.B, maxLength: c.B })
        : fc.constant(null)
      ).map((lengths): Case => ({ ...c, kind, c0: kind === 'lstm' && c.c0, lengths })),
    );
}

/** A large configuration with every option on, and sequences of full, zero and partial length. */
const everything = (kind: Kind, H = 3): Case => ({
  kind,
  T: 3,
  B: 3,
  I: 3,
  H,
  layers: 3,
  bidirectional: true,
  batchFirst: true,
  bias: true,
  h0: true,
  c0: kind === 'lstm',
  lengths: [3, 0, 2],
  seed: 1,
});

/**
 * fast-check's settings for one kind: the fixed seed, offset by the kind so that the four kinds
 * see different configurations, and {@link everything} run first as an explicit example (with
 * H = 2 where each run costs more, as gradcheck's two forward passes per scalar input do).
 */
const runsFor = (kind: Kind, numRuns: number, H = 3): fc.Parameters<[Case]> => ({
  seed: FC_SEED + KINDS.indexOf(kind),
  numRuns,
  examples: [[everything(kind, H)]],
});

const describeCase = (c: Case) =>
  `${c.kind} T=${c.T} B=${c.B} I=${c.I} H=${c.H} layers=${c.layers}${c.bidirectional ? ' bidirectional' : ''}${c.batchFirst ? ' batchFirst' : ''}` +
  `${c.bias ? '' : ' no-bias'}${c.h0 ? ' h0' : ''}${c.c0 ? ' c0' : ''}${c.lengths ? ` lengths=[${c.lengths}]` : ''}`;

function build(c: Case, opts: { backend?: Backend; dtype?: DType }): Model {
  const o = {
    inputSize: c.I,
    hiddenSize: c.H,
    numLayers: c.layers,
    bidirectional: c.bidirectional,
    batchFirst: c.batchFirst,
    bias: c.bias,
    seed: c.seed,
    ...opts,
  };
  if (c.kind === 'lstm') return new LSTM(o);
  if (c.kind === 'rnn') return new RNN(o);
  const recurrentBias = c.kind === 'gru-recurrentBias';
  return new GRU({ ...o, resetAfter: c.kind === 'gru-resetAfter' || recurrentBias, recurrentBias });
}

/** Every model's forward in one shape: the output and the final states ([hN] or [hN, cN]). */
function run(
  model: Model,
  c: Case,
  x: Variable,
  init: Array<Variable | undefined>,
): { output: Variable; states: Variable[] } {
  const opts = c.lengths ? { lengths: Int32Array.from(c.lengths) } : {};
  if (model instanceof LSTM) {
    const [h0, c0] = init;
    const { output, hN, cN } = model.forward(x, { ...(h0 ? { h0 } : {}), ...(c0 ? { c0 } : {}) }, opts);
    return { output, states: [hN, cN] };
  }
  const { output, hN } = model.forward(x, init[0], opts);
  return { output, states: [hN] };
}

/** The output and every final state flattened into one vector, so one cotangent covers them all. */
const flatAll = (r: { output: Variable; states: Variable[] }): Variable =>
  concat(
    [r.output, ...r.states].map((v) => v.reshape([v.size])),
    0,
  );

// ---------------------------------------------------------------------------------------------
// Host-side values

/** mulberry32: a small seeded generator of uniform numbers in [lo, hi). */
function uniformValues(seed: number): (n: number, lo?: number, hi?: number) => Float64Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return (n, lo = -1, hi = 1) => Float64Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * next()));
}

/** [n0, n1, n2] row-major -> [n1, n0, n2]: between time-major and batch-first. */
function swap01(a: ArrayLike<number>, n0: number, n1: number, n2: number): Float64Array {
  const out = new Float64Array(n0 * n1 * n2);
  for (let i = 0; i < n0; i++)
    for (let j = 0; j < n1; j++) for (let k = 0; k < n2; k++) out[(j * n0 + i) * n2 + k] = a[(i * n1 + j) * n2 + k];
  return out;
}

/** The inputs of one case: x time-major [T, B, I], and each initial state [layers·D, B, H] or undefined. */
function inputsOf(c: Case): { x: Float64Array; init: Array<Float64Array | undefined> } {
  const D = c.bidirectional ? 2 : 1;
  const draw = uniformValues(c.seed ^ 0x5eed);
  const x = draw(c.T * c.B * c.I, -2, 2);
  const h0 = draw(c.layers * D * c.B * c.H);
  const c0 = draw(c.layers * D * c.B * c.H, -2, 2);
  return { x, init: [c.h0 ? h0 : undefined, c.c0 ? c0 : undefined].slice(0, stateCount(c.kind)) };
}

/** Leaf Variables for a case's inputs on `backend` in `dtype`, laid out as the model expects. */
function leaves(
  c: Case,
  x: Float64Array,
  init: Array<Float64Array | undefined>,
  backend: Backend,
  dtype: 'float32' | 'float64',
) {
  const D = c.bidirectional ? 2 : 1;
  const values = (a: Float64Array) => (dtype === 'float64' ? a : Float32Array.from(a));
  const xs = c.batchFirst ? swap01(x, c.T, c.B, c.I) : x;
  const xv = variable(values(xs), {
    backend,
    dtype,
    shape: c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I],
    requiresGrad: true,
  });
  const initv = init.map((s) =>
    s ? variable(values(s), { backend, dtype, shape: [c.layers * D, c.B, c.H], requiresGrad: true }) : undefined,
  );
  return { xv, initv };
}

async function paramValues(model: Model): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  for (const [name, p] of model.namedParameters()) out.set(name, Float64Array.from(await p.data()));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The oracle, stacked here: layer by layer, direction by direction

interface Reference {
  /** Time-major [T, B, D·H]. */
  output: Float64Array;
  /** [hN] or [hN, cN], each [layers·D, B, H]. */
  states: Float64Array[];
}

function reference(
  c: Case,
  params: Map<string, Float64Array>,
  x: Float64Array,
  init: Array<Float64Array | undefined>,
): Reference {
  const { T, B, H } = c;
  const D = c.bidirectional ? 2 : 1;
  const states = Array.from({ length: stateCount(c.kind) }, () => new Float64Array(c.layers * D * B * H));
  let input = x;
  let I = c.I;
  for (let k = 0; k < c.layers; k++) {
    const out = new Float64Array(T * B * D * H);
    for (let d = 0; d < D; d++) {
      const name = d === 0 ? `l${k}` : `l${k}_reverse`;
      const p = (key: string) => params.get(`${name}.${key}`);
      const at = (s: Float64Array | undefined) => s?.slice((k * D + d) * B * H, (k * D + d + 1) * B * H);
      const common = {
        x: input,
        T,
        B,
        I,
        H,
        W: p('W') as Float64Array,
        U: p('U') as Float64Array,
        ...(p('b') ? { b: p('b') } : {}),
        ...(init[0] ? { h0: at(init[0]) } : {}),
        ...(c.lengths ? { lengths: c.lengths } : {}),
        reverse: d === 1,
      };
      let r: { output: Float64Array; hN: Float64Array; cN?: Float64Array };
      if (c.kind === 'lstm') r = lstm64({ ...common, ...(init[1] ? { c0: at(init[1]) } : {}) });
      else if (c.kind === 'rnn') r = rnn64(common);
      else {
        const resetAfter = c.kind === 'gru-resetAfter' || c.kind === 'gru-recurrentBias';
        r = gru64({ ...common, resetAfter, ...(p('c') ? { c: p('c') } : {}) });
      }
      // This direction's outputs go to features d·H .. d·H + H of the layer's output.
      for (let tb = 0; tb < T * B; tb++) out.set(r.output.subarray(tb * H, (tb + 1) * H), (tb * D + d) * H);
      (states[0] as Float64Array).set(r.hN, (k * D + d) * B * H);
      if (r.cN) (states[1] as Float64Array).set(r.cN, (k * D + d) * B * H);
    }
    input = out;
    I = D * H;
  }
  return { output: input, states };
}

/** The model's output as time-major values, to compare with the oracle's. */
async function timeMajor(c: Case, output: Variable): Promise<Float64Array> {
  const v = Float64Array.from(await output.data());
  return c.batchFirst ? swap01(v, c.B, c.T, output.shape[2]) : v;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const cpu = cpuBackend();

// ---------------------------------------------------------------------------------------------
// a. and b. float64 on the CPU: the oracle's values, and the finite differences' gradients

describe('recurrent layers in float64 on the CPU', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });

  for (const kind of KINDS) {
    it(`${kind}: forward agrees with the float64 reference within 1e-10`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(kind), async (c) => {
          const model = build(c, { backend: cpu, dtype: 'float64' });
          const { x, init } = inputsOf(c);
          const { xv, initv } = leaves(c, x, init, cpu, 'float64');
          const r = noGrad(() => run(model, c, xv, initv));
          const ref = reference(c, await paramValues(model), x, init);
          expect(maxAbsDiff(await timeMajor(c, r.output), ref.output), `${describeCase(c)}: output`).toBeLessThan(
            1e-10,
          );
          for (const [j, s] of r.states.entries()) {
            expect(
              maxAbsDiff(await s.data(), ref.states[j] as Float64Array),
              `${describeCase(c)}: ${j === 0 ? 'hN' : 'cN'}`,
            ).toBeLessThan(1e-10);
          }
        }),
        runsFor(kind, 40),
      );
    });

    it(`${kind}: gradcheck passes for every parameter, the input and the initial states`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(kind), async (c) => {
          const model = build(c, { backend: cpu, dtype: 'float64' });
          const { x, init } = inputsOf(c);
          const { xv, initv } = leaves(c, x, init, cpu, 'float64');
          const given = initv.filter((s): s is Variable => s !== undefined);
          // gradcheck perturbs float64 CPU Variables in place, so the closure over the module's
          // parameters sees every perturbation.
          const fn = () => flatAll(run(model, c, xv, initv));
          const res = await gradcheck(fn, [xv, ...given, ...model.parameters()], { atol: 1e-6, rtol: 1e-6 });
          expect(res.ok, `${describeCase(c)}: max abs error ${res.maxAbsError}, max rel error ${res.maxRelError}`).toBe(
            true,
          );
        }),
        runsFor(kind, 5, 2),
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// c. float32 on each backend against float64

/**
 * float32 tolerance for outputs and gradients: |a − b| ≤ F32_TOL · (1 + |b|). float32 keeps 24
 * bits (unit roundoff 6e-8); a value here comes out of at most 4 steps × 3 layers × 2 directions of
 * chained sums of ≤ 10 products, and a gradient out of as many again, so a few hundred roundings
 * of O(1) numbers: ~1e-5 in the worst case. Observed: below 3e-7 (relative) on both backends.
 */
const F32_TOL = 2e-5;

function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (!(Math.abs(a - b) <= tol * (1 + Math.abs(b))))
      expect.fail(`${what}[${i}]: got ${a}, expected ${b} (tolerance ${tol}·(1 + |expected|))`);
  }
}

/** Forward, then backward of <all outputs, v>: the values and every leaf's gradient, read to the host. */
async function forwardBackward(
  model: Model,
  c: Case,
  x: Float64Array,
  init: Array<Float64Array | undefined>,
  backend: Backend,
  dtype: 'float32' | 'float64',
) {
  const { xv, initv } = leaves(c, x, init, backend, dtype);
  const flat = flatAll(run(model, c, xv, initv));
  const v = uniformValues(c.seed ^ 0xc07a)(flat.size);
  const seed = tensorOn(backend, dtype === 'float64' ? v : Float32Array.from(v), [flat.size], dtype);
  // Read the forward values first: backward frees the graph's intermediate values.
  const values = Float64Array.from(await flat.data());
  flat.backward(seed);
  seed.dispose();
  const grads = new Map<string, Float64Array>();
  const gradOf = async (name: string, p: Variable) => {
    grads.set(name, p.grad ? Float64Array.from(await p.grad.data()) : new Float64Array(p.size));
  };
  await gradOf('x', xv);
  for (const [j, s] of initv.entries()) if (s) await gradOf(j === 0 ? 'h0' : 'c0', s);
  for (const [name, p] of model.namedParameters()) await gradOf(name, p);
  for (const leaf of [xv, ...initv, flat]) leaf?.dispose();
  return { values, grads };
}

/** A float32 model on the active backend holding the float64 model's weights (which are float32 values). */
async function float32Copy(c: Case, m64: Model): Promise<Model> {
  const m32 = build(c, {});
  const dict: Record<string, Float32Array> = {};
  for (const [name, p] of m64.namedParameters()) dict[name] = Float32Array.from(await p.data());
  m32.loadStateDict(dict);
  return m32;
}

const disposeModel = (m: Model) => {
  for (const p of m.parameters()) p.dispose();
};

forEachBackend('recurrent layers in float32', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  for (const kind of KINDS) {
    it(`${kind}: outputs and gradients match float64 within ${F32_TOL}·(1 + |x|)`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(kind), async (c) => {
          const { x, init } = inputsOf(c);
          const m64 = build(c, { backend: cpu, dtype: 'float64' });
          const m32 = await float32Copy(c, m64);
          const want = await forwardBackward(m64, c, x, init, cpu, 'float64');
          const got = await forwardBackward(m32, c, x, init, m32.parameters()[0]!.value.backend, 'float32');
          expectClose(`${describeCase(c)}: outputs`, got.values, want.values, F32_TOL);
          for (const [key, g] of want.grads)
            expectClose(`${describeCase(c)}: grad ${key}`, got.grads.get(key) as Float64Array, g, F32_TOL);
          disposeModel(m32);
        }),
        runsFor(kind, 6),
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// d. pre-activations far beyond ±90

/**
 * Weights that put every gate's pre-activation at ±105..±1045: each bias is ±(150..1000), while
 * |x| ≤ 1, |h| ≤ 1 and |W|, |U|, |c| ≤ 5 keep |x W + h U| ≤ 6·5 + 3·5 = 45 (and the resetAfter term
 * |r ⊙ (h U_h + c)| ≤ 20). WGSL's built-in tanh is undefined there; the library's own must give
 * ±1 (and σ 0 or 1), with zero, not NaN, derivatives.
 */
function saturatingWeights(m64: Model, seed: number): void {
  const draw = uniformValues(seed ^ 0xb16);
  const dict: Record<string, Tensor> = {};
  for (const [name, p] of m64.namedParameters()) {
    let values = draw(p.size, -5, 5);
    if (name.endsWith('.b')) {
      const magnitudes = draw(p.size, 150, 1000);
      values = values.map((sign, i) => (sign < 0 ? -1 : 1) * magnitudes[i]);
    }
    dict[name] = tensorOn(cpu, values, p.shape, 'float64');
  }
  m64.loadStateDict(dict);
}

forEachBackend('recurrent layers with saturated gates', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('tanh and sigmoid are exact to float32 far beyond ±90, with finite gradients', async () => {
    const xs = [-1e4, -1000, -100, -90.5, -89, -20, -1, -0.5, -1e-3, 0, 1e-3, 0.5, 1, 20, 89, 90.5, 100, 1000, 1e4];
    const x = variable(Float32Array.from(xs), { requiresGrad: true });
    const t = x.tanh();
    const s = x.sigmoid();
    const tv = await t.data();
    const sv = await s.data();
    xs.forEach((v, i) => {
      expect(Math.abs(tv[i] - Math.tanh(v)), `tanh(${v})`).toBeLessThanOrEqual(2e-7 * Math.abs(Math.tanh(v)) + 1e-30);
      const sig = 1 / (1 + Math.exp(-v));
      expect(Math.abs(sv[i] - sig), `σ(${v})`).toBeLessThanOrEqual(2e-7 * sig + 1e-30);
    });
    t.add(s).sum().backward();
    const g = await x.grad!.data();
    expect(Array.from(g).every(Number.isFinite)).toBe(true);
    expect(g[0]).toBe(0); // tanh'(−1e4) + σ'(−1e4) underflow to exactly 0
    expect(g[g.length - 1]).toBe(0);
  });

  for (const kind of KINDS) {
    it(`${kind}: forward with gate pre-activations at ±105..±1045 is finite and matches the float64 reference`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(kind), async (drawn) => {
          const c = { ...drawn, bias: true };
          const m64 = build(c, { backend: cpu, dtype: 'float64' });
          saturatingWeights(m64, c.seed);
          const m32 = await float32Copy(c, m64);
          const D = c.bidirectional ? 2 : 1;
          const draw = uniformValues(c.seed ^ 0x5a7);
          const x = draw(c.T * c.B * c.I);
          const init = [
            c.h0 ? draw(c.layers * D * c.B * c.H) : undefined,
            c.c0 ? draw(c.layers * D * c.B * c.H, -2, 2) : undefined,
          ].slice(0, stateCount(kind));
          const ref = reference(c, await paramValues(m64), x, init);
          const { xv, initv } = leaves(c, x, init, m32.parameters()[0]!.value.backend, 'float32');
          const r = noGrad(() => run(m32, c, xv, initv));
          const output = await timeMajor(c, r.output);
          expect(output.every(Number.isFinite), describeCase(c)).toBe(true);
          expect(maxAbsDiff(output, ref.output), describeCase(c)).toBeLessThan(1e-5);
          for (const [j, s] of r.states.entries())
            expect(maxAbsDiff(await s.data(), ref.states[j] as Float64Array), describeCase(c)).toBeLessThan(1e-5);
          // Backward through saturated gates: finite, and equal to float64's (mostly exact zeros).
          const want = await forwardBackward(m64, c, x, init, cpu, 'float64');
          const got = await forwardBackward(m32, c, x, init, m32.parameters()[0]!.value.backend, 'float32');
          for (const [key, g] of want.grads) {
            const gg = got.grads.get(key) as Float64Array;
            expect(gg.every(Number.isFinite), `${describeCase(c)}: grad ${key}`).toBe(true);
            expectClose(`${describeCase(c)}: grad ${key}`, gg, g, F32_TOL);
          }
          disposeModel(m32);
        }),
        runsFor(kind, 6),
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// e. long sequences

describe('backpropagation through 1,000 timesteps (CPU)', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });

  it('GRU H=4, T=1000: no stack overflow, finite gradients, and the float64 gradient is right along a random direction', async () => {
    const c: Case = {
      kind: 'gru',
      T: 1000,
      B: 1,
      I: 2,
      H: 4,
      layers: 1,
      bidirectional: false,
      batchFirst: false,
      bias: true,
      h0: false,
      c0: false,
      lengths: null,
      seed: 3,
    };
    const { x } = inputsOf(c);
    // float32, the everyday path
    const m32 = build(c, { backend: cpu });
    const r32 = await forwardBackward(m32, c, x, [], cpu, 'float32');
    for (const [key, g] of r32.grads) {
      expect(g.every(Number.isFinite), key).toBe(true);
      expect(
        g.some((v) => v !== 0),
        key,
      ).toBe(true);
    }
    // float64: <∇f, v> against (f(θ + εv) − f(θ − εv)) / 2ε, f = Σ hN
    const m64 = build(c, { backend: cpu, dtype: 'float64' });
    const xv = variable(x, { backend: cpu, dtype: 'float64', shape: [c.T, c.B, c.I] });
    const f = () => run(m64, c, xv, []).states[0]!.sum();
    f().backward();
    const base = await paramValues(m64);
    const dir = uniformValues(11);
    let analytic = 0;
    const directions = new Map<string, Float64Array>();
    for (const [name, p] of m64.namedParameters()) {
      const v = dir(p.size);
      directions.set(name, v);
      const g = await p.grad!.data();
      for (let i = 0; i < v.length; i++) analytic += g[i] * v[i];
    }
    const eps = 1e-6;
    const at = async (s: number) => {
      const dict: Record<string, Tensor> = {};
      for (const [name, p] of m64.namedParameters()) {
        const b = base.get(name) as Float64Array;
        const v = directions.get(name) as Float64Array;
        dict[name] = tensorOn(
          cpu,
          b.map((bi, i) => bi + s * eps * v[i]),
          p.shape,
          'float64',
        );
      }
      m64.loadStateDict(dict);
      return noGrad(f).item();
    };
    const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
    expect(Math.abs(analytic - numeric)).toBeLessThan(1e-6 * (1 + Math.abs(numeric)));
  });
});

// ---------------------------------------------------------------------------------------------
// Cells, sizes and argument checks

describe('cells and parameter counts', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });

  it('LSTMCell and RNNCell, stepped by hand, agree with the float64 reference', async () => {
    const [T, B, I, H] = [3, 2, 3, 2];
    const draw = uniformValues(5);
    const x = draw(T * B * I);
    const h0 = draw(B * H);
    const c0 = draw(B * H);
    const step = (t: number) =>
      variable(x.slice(t * B * I, (t + 1) * B * I), { backend: cpu, dtype: 'float64', shape: [B, I] });
    const p = async (cell: LSTMCell | RNNCell) =>
      ({ W: await cell.W.data(), U: await cell.U.data(), b: await cell.b!.data() }) as {
        W: Float64Array;
        U: Float64Array;
        b: Float64Array;
      };

    const lstm = new LSTMCell({ inputSize: I, hiddenSize: H, seed: 9, backend: cpu, dtype: 'float64' });
    let s = {
      h: variable(h0, { backend: cpu, dtype: 'float64', shape: [B, H] }),
      c: variable(c0, { backend: cpu, dtype: 'float64', shape: [B, H] }),
    };
    for (let t = 0; t < T; t++) s = lstm.forward(step(t), s);
    const lref = lstm64({ x, T, B, I, H, ...(await p(lstm)), h0, c0 });
    expect(maxAbsDiff(await s.h.data(), lref.hN)).toBeLessThan(1e-12);
    expect(maxAbsDiff(await s.c.data(), lref.cN)).toBeLessThan(1e-12);

    const rnn = new RNNCell({ inputSize: I, hiddenSize: H, seed: 9, backend: cpu, dtype: 'float64' });
    let h = rnn.forward(step(0)); // from zeros
    for (let t = 1; t < T; t++) h = rnn.forward(step(t), h);
    const rref = rnn64({ x, T, B, I, H, ...(await p(rnn)) });
    expect(maxAbsDiff(await h.data(), rref.hN)).toBeLessThan(1e-12);
  });

  it('parameter counts: LSTM 4(IH + H² + H), GRU 3(IH + H² + H) (+H with resetAfter), RNN IH + H² + H', () => {
    const [I, H] = [5, 7];
    const per = I * H + H * H + H;
    expect(new LSTM({ inputSize: I, hiddenSize: H }).numParameters()).toBe(4 * per);
    expect(new GRU({ inputSize: I, hiddenSize: H }).numParameters()).toBe(3 * per);
    expect(new GRU({ inputSize: I, hiddenSize: H, resetAfter: true }).numParameters()).toBe(3 * per + H);
    expect(new RNN({ inputSize: I, hiddenSize: H }).numParameters()).toBe(per);
    // Two bidirectional layers: the second layer reads 2H features.
    const second = 2 * H * H + H * H + H;
    expect(new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true }).numParameters()).toBe(
      2 * 4 * (per + second),
    );
    expect(new LSTM({ inputSize: I, hiddenSize: H, bias: false }).parameters().map((q) => q.shape)).toEqual([
      [I, 4 * H],
      [H, 4 * H],
    ]);
    expect(new LSTM({ inputSize: I, hiddenSize: H, bidirectional: true }).namedParameters().map(([n]) => n)).toEqual([
      'l0.W',
      'l0.U',
      'l0.b',
      'l0_reverse.W',
      'l0_reverse.U',
      'l0_reverse.b',
    ]);
  });

  it('dropout acts between layers, in training only', async () => {
    const x = variable(uniformValues(2)(3 * 2 * 2), { backend: cpu, dtype: 'float64', shape: [3, 2, 2] });
    const opts = { inputSize: 2, hiddenSize: 4, numLayers: 2, seed: 4, backend: cpu, dtype: 'float64' } as const;
    const pairs: Array<[LSTM | RNN, LSTM | RNN]> = [
      [new LSTM({ ...opts, dropout: 0.5 }), new LSTM(opts)],
      [new RNN({ ...opts, dropout: 0.5 }), new RNN(opts)],
    ];
    for (const [withDropout, without] of pairs) {
      const plain = await without.forward(x).output.data();
      expect(await withDropout.eval().forward(x).output.data()).toEqual(plain);
      expect(await withDropout.train().forward(x).output.data()).not.toEqual(plain);
    }
  });

  it('the LSTM takes h0 or c0 alone (the other is zeros) and names what is wrong', async () => {
    const lstm = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend: cpu, dtype: 'float64' });
    const x = variable(uniformValues(1)(4 * 2 * 2), { backend: cpu, dtype: 'float64', shape: [4, 2, 2] });
    const zeros = variable(new Float64Array(6), { backend: cpu, dtype: 'float64', shape: [1, 2, 3] });
    const plain = lstm.forward(x);
    const withZeroH = lstm.forward(x, { c0: zeros });
    expect(await withZeroH.hN.data()).toEqual(await plain.hN.data());
    expect(await withZeroH.cN.data()).toEqual(await plain.cN.data());
    const withZeroC = lstm.forward(x, { h0: zeros });
    expect(await withZeroC.output.data()).toEqual(await plain.output.data());
    expect(() =>
      lstm.forward(x, {
        h0: zeros,
        c0: variable(new Float64Array(3), { backend: cpu, dtype: 'float64', shape: [1, 1, 3] }),
      }),
    ).toThrow(/h0 \[1, 2, 3\] and c0 \[1, 1, 3\]/);
    expect(() => lstm.forward(x, { h: zeros } as never)).toThrow(/unknown initial state 'h'/);
    expect(() => lstm.forward(x, {}, { length: new Int32Array(2) } as never)).toThrow(/unknown option 'length'/);
    expect(() =>
      new LSTMCell({ inputSize: 2, hiddenSize: 3 }).forward(variable([[1, 2]]), { h: variable([[0, 0, 0]]) } as never),
    ).toThrow(/state\.c must be \[1, 3\]/);
  });
});
