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
import { type Backend, cpuBackend, type DType, tensorOn } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FC_SEED, forEachBackend, webgpuAvailable } from '../../../test-support/backends.js';
import { setBackend, backend as activeB } from '@wgru/tensor';
const activeBackendName = () => activeB().name;
import { afterAll } from 'vitest';
afterAll(() => console.log(JSON.stringify((globalThis as unknown as {worst: Record<string, number>}).worst)));
import { gru64, lstm64, rnn64 } from '../src/reference/recurrent64.js';
import type { Parameter } from '../src/module.js';
import { GRU } from '../src/rnn/gru.js';
import { LSTM, LSTMCell } from '../src/rnn/lstm.js';
import { RNN, RNNCell } from '../src/rnn/rnn.js';

// ---------------------------------------------------------------------------------------------
// The configurations

const KINDS = ['gru', 'gru-resetAfter', 'lstm', 'rnn'] as const;
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

function caseArb(kind: Kind, sizes: { maxT?: number } = {}): fc.Arbitrary<Case> {
  return fc
    .record({
      T: fc.integer({ min: 1, max: sizes.maxT ?? 4 }),
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
      (withLengths ? fc.array(fc.integer({ min: 0, max: c.T }), { minLength: c.B, maxLength: c.B }) : fc.constant(null)).map(
        (lengths): Case => ({ ...c, kind, c0: kind === 'lstm' && c.c0, lengths }),
      ),
    );
}

const describeCase = (c: Case) =>
  `${c.kind} T=${c.T} B=${c.B} I=${c.I} H=${c.H} layers=${c.layers}${c.bidirectional ? ' bidirectional' : ''}${c.batchFirst ? ' batchFirst' : ''}` +
  `${c.bias ? '' : ' no-bias'}${c.h0 ? ' h0' : ''}${c.c0 ? ' c0' : ''}${c.lengths ? ` lengths=[${c.lengths}]` : ''}`;

function build(c: Case, opts: { backend?: Backend; dtype?: DType }): Model {
  const o = { inputSize: c.I, hiddenSize: c.H, numLayers: c.layers, bidirectional: c.bidirectional, batchFirst: c.batchFirst, bias: c.bias, seed: c.seed, ...opts };
  if (c.kind === 'lstm') return new LSTM(o);
  if (c.kind === 'rnn') return new RNN(o);
  return new GRU({ ...o, resetAfter: c.kind === 'gru-resetAfter' });
}

/** Every model's forward in one shape: the output and the final states ([hN] or [hN, cN]). */
function run(model: Model, c: Case, x: Variable, init: Array<Variable | undefined>): { output: Variable; states: Variable[] } {
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
  for (let i = 0; i < n0; i++) for (let j = 0; j < n1; j++) for (let k = 0; k < n2; k++) out[(j * n0 + i) * n2 + k] = a[(i * n1 + j) * n2 + k] as number;
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
function leaves(c: Case, x: Float64Array, init: Array<Float64Array | undefined>, backend: Backend, dtype: 'float32' | 'float64') {
  const D = c.bidirectional ? 2 : 1;
  const values = (a: Float64Array) => (dtype === 'float64' ? a : Float32Array.from(a));
  const xs = c.batchFirst ? swap01(x, c.T, c.B, c.I) : x;
  const xv = variable(values(xs), { backend, dtype, shape: c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I], requiresGrad: true });
  const initv = init.map((s) => (s ? variable(values(s), { backend, dtype, shape: [c.layers * D, c.B, c.H], requiresGrad: true }) : undefined));
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

function reference(c: Case, params: Map<string, Float64Array>, x: Float64Array, init: Array<Float64Array | undefined>): Reference {
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
        x: input, T, B, I, H,
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
      else r = gru64({ ...common, resetAfter: c.kind === 'gru-resetAfter', ...(p('c') ? { c: p('c') } : {}) });
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
  return c.batchFirst ? swap01(v, c.B, c.T, output.shape[2] as number) : v;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

const cpu = cpuBackend();
const hasGpu = await webgpuAvailable();

// ---------------------------------------------------------------------------------------------

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
          const errors = [maxAbsDiff(await timeMajor(c, r.output), ref.output), ...(await Promise.all(r.states.map(async (s, j) => maxAbsDiff(await s.data(), ref.states[j] as Float64Array))))];
          expect(Math.max(...errors), describeCase(c)).toBeLessThan(1e-10);
        }),
        { seed: FC_SEED, numRuns: 25 },
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
          expect(res.ok, `${describeCase(c)}: max abs error ${res.maxAbsError}, max rel error ${res.maxRelError}`).toBe(true);
        }),
        { seed: FC_SEED, numRuns: 4 },
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
 * of O(1) numbers: ~1e-5 in the worst case. Observed: below 2e-6 on both backends.
 */
const F32_TOL = 2e-5;

function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const b = expected[i] as number;
    (globalThis as unknown as {worst: Record<string, number>}).worst ??= {};
    const W = (globalThis as unknown as {worst: Record<string, number>}).worst;
    const key = what.split(' ')[0] + (what.includes('grad') ? ' grad' : ' out') + ' ' + (activeBackendName());
    W[key] = Math.max(W[key] ?? 0, Math.abs(a - b) / (1 + Math.abs(b)));
    if (!(Math.abs(a - b) <= tol * (1 + Math.abs(b)))) expect.fail(`${what}[${i}]: got ${a}, expected ${b} (tolerance ${tol}·(1 + |expected|))`);
  }
}

/** Forward, then backward of <all outputs, v>: the values and every leaf's gradient, read to the host. */
async function forwardBackward(model: Model, c: Case, x: Float64Array, init: Array<Float64Array | undefined>, backend: Backend, dtype: 'float32' | 'float64') {
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
          for (const [key, g] of want.grads) expectClose(`${describeCase(c)}: grad ${key}`, got.grads.get(key) as Float64Array, g, F32_TOL);
          disposeModel(m32);
        }),
        { seed: FC_SEED, numRuns: 6 },
      );
    });
  }
});
