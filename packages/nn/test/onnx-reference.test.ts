/**
 * The ONNX reader, the ONNX → seed weight conversions and the float64 recurrent references,
 * checked against ONNX's own backend test vectors (test-support/reference/onnx, vendored) and against a direct
 * transcription of the ONNX operator equations on random weights.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gruFromOnnx, lstmFromOnnx, onnxRecurrentAttributes, rnnFromOnnx, swapAxes01 } from '../src/onnx/convert.js';
import type { OnnxNode, OnnxTensor } from '../src/onnx/read.js';
import { readOnnxModel, readTensorProto } from '../src/onnx/read.js';
import { gru64, lstm64, rnn64, sigmoid64 } from '../src/reference/recurrent64.js';
import { maxAbsDiff, onnxReferenceDir } from '../../../test-support/reference.js';

const onnxDir = onnxReferenceDir;

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

/** A small deterministic generator of normal-ish numbers for random weights. */
function random(seed: number): (n: number, scale?: number) => Float64Array {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return (n, scale = 1) => Float64Array.from({ length: n }, () => scale * (u() + u() + u() - 1.5) * 2);
}

interface OnnxRun {
  /** ONNX output slots 0 (Y), 1 (Y_h), 2 (Y_c), in the node's layout. */
  outputs: Array<{ dims: number[]; data: Float64Array }>;
}

/**
 * Run an ONNX GRU / LSTM / RNN node through the converters and the float64 references. `feeds`
 * maps the node's input names to tensors. Returns Y [T, D, B, H], Y_h [D, B, H] (and Y_c),
 * batch-major ([B, T, D, H], [B, D, H]) when the node's layout is 1.
 */
function runOnnxNode(node: OnnxNode, feeds: Map<string, OnnxTensor>): OnnxRun {
  const attrs = onnxRecurrentAttributes(node);
  const input = (k: number) => {
    const name = node.inputs[k];
    return name ? feeds.get(name) : undefined;
  };
  const X = input(0) as OnnxTensor;
  const floats = (t: OnnxTensor | undefined) => (t ? Float32Array.from(t.data) : undefined);
  const [d0, d1, I] = X.dims as [number, number, number];
  const [T, B] = attrs.layout === 1 ? [d1, d0] : [d0, d1];
  const H = attrs.hiddenSize;
  const D = attrs.numDirections;
  const x = f64(attrs.layout === 1 ? swapAxes01(X.data, B, T, I) : X.data);
  const timeMajorState = (t: OnnxTensor | undefined) =>
    t ? f64(attrs.layout === 1 ? swapAxes01(t.data, B, D, H) : t.data) : undefined;
  const lengths = input(4)?.data;
  const h0 = timeMajorState(input(5));
  const c0 = timeMajorState(input(6));
  const weights = {
    W: floats(input(1)) as Float32Array,
    R: floats(input(2)) as Float32Array,
    B: floats(input(3)),
    hiddenSize: H,
  };

  const Y = new Float64Array(T * D * B * H);
  const Yh = new Float64Array(D * B * H);
  const Yc = new Float64Array(D * B * H);
  for (let d = 0; d < D; d++) {
    const common = {
      x,
      T,
      B,
      I,
      H,
      h0: h0?.slice(d * B * H, (d + 1) * B * H),
      reverse: attrs.direction === 'reverse' || d === 1,
      ...(lengths ? { lengths } : {}),
    };
    let result: { output: Float64Array; hN: Float64Array; cN?: Float64Array };
    if (attrs.op === 'GRU') {
      const w = gruFromOnnx({ ...weights, linearBeforeReset: attrs.linearBeforeReset })[d]!;
      result = gru64({
        ...common,
        W: f64(w.W),
        U: f64(w.U),
        b: f64(w.b),
        resetAfter: w.resetAfter,
        ...(w.c ? { c: f64(w.c) } : {}),
      });
    } else if (attrs.op === 'LSTM') {
      const w = lstmFromOnnx({ ...weights, P: floats(input(7)) })[d]!;
      const p = w.peepholes ? { peepholes: f64(w.peepholes) } : {};
      result = lstm64({
        ...common,
        c0: c0?.slice(d * B * H, (d + 1) * B * H),
        W: f64(w.W),
        U: f64(w.U),
        b: f64(w.b),
        ...p,
      });
    } else {
      const w = rnnFromOnnx(weights)[d]!;
      result = rnn64({ ...common, W: f64(w.W), U: f64(w.U), b: f64(w.b) });
    }
    for (let t = 0; t < T; t++) Y.set(result.output.subarray(t * B * H, (t + 1) * B * H), (t * D + d) * B * H);
    Yh.set(result.hN, d * B * H);
    if (result.cN) Yc.set(result.cN, d * B * H);
  }
  if (attrs.layout === 1) {
    return {
      outputs: [
        { dims: [B, T, D, H], data: batchMajorY(Y, T, D, B, H) },
        { dims: [B, D, H], data: swapAxes01(Yh, D, B, H) },
        { dims: [B, D, H], data: swapAxes01(Yc, D, B, H) },
      ],
    };
  }
  return {
    outputs: [
      { dims: [T, D, B, H], data: Y },
      { dims: [D, B, H], data: Yh },
      { dims: [D, B, H], data: Yc },
    ],
  };
}

/** [T, D, B, H] → [B, T, D, H]. */
function batchMajorY(Y: Float64Array, T: number, D: number, B: number, H: number): Float64Array {
  const out = new Float64Array(Y.length);
  for (let t = 0; t < T; t++) {
    for (let d = 0; d < D; d++) {
      for (let b = 0; b < B; b++)
        out.set(Y.subarray(((t * D + d) * B + b) * H, ((t * D + d) * B + b + 1) * H), ((b * T + t) * D + d) * H);
    }
  }
  return out;
}

describe('ONNX backend test vectors through the converters and the float64 references', () => {
  const folders = readdirSync(onnxDir)
    .filter((f) => f.startsWith('test_'))
    .sort();

  it('finds the reference folders', () => {
    expect(folders.length).toBeGreaterThanOrEqual(12);
  });

  for (const folder of folders) {
    it(folder, () => {
      const dir = path.join(onnxDir, folder);
      const model = readOnnxModel(readFileSync(path.join(dir, 'model.onnx')));
      expect(model.nodes).toHaveLength(1);
      const node = model.nodes[0]!;
      const data = path.join(dir, 'test_data_set_0');
      const feeds = new Map<string, OnnxTensor>();
      model.inputs.forEach((name, k) => {
        const t = readTensorProto(readFileSync(path.join(data, `input_${k}.pb`)), `${folder}/input_${k}.pb`);
        expect(t.name).toBe(name);
        feeds.set(name, t);
      });
      const run = runOnnxNode(node, feeds);
      expect(model.outputs.length).toBeGreaterThan(0);
      model.outputs.forEach((name, k) => {
        const expected = readTensorProto(readFileSync(path.join(data, `output_${k}.pb`)), `${folder}/output_${k}.pb`);
        // Graph outputs are matched to the node's output slots by name: in these files the
        // names mislead (test_gru_defaults calls its Y_h output 'Y').
        const slot = node.outputs.indexOf(name);
        const got = run.outputs[slot]!;
        expect(expected.dims).toEqual(got.dims);
        expect(maxAbsDiff(got.data, expected.data)).toBeLessThan(1e-6); // float32 data: observed ≤ 9e-8
      });
    });
  }

  it('test_gru_seq_length has no sequence_lens input: its "seq_length" is T = 2 with random weights', () => {
    const model = readOnnxModel(readFileSync(path.join(onnxDir, 'test_gru_seq_length/model.onnx')));
    expect(model.nodes[0]!.inputs).toEqual(['X', 'W', 'R', 'B']);
  });
});

// ---------------------------------------------------------------------------------------------
// The ONNX operators transcribed directly from the ONNX specification (column vectors, ONNX gate
// orders i|o|f|c and z|r|h, ONNX's z convention), float64, to check the converters on random
// weights: the ONNX test vectors use identical weights for every gate and mostly T = 1, which
// hides gate-order and recurrent-weight mistakes.

interface SpecOptions {
  op: 'GRU' | 'LSTM' | 'RNN';
  X: Float64Array;
  T: number;
  B: number;
  I: number;
  H: number;
  D: number;
  W: Float64Array;
  R: Float64Array;
  Bias: Float64Array;
  P?: Float64Array;
  lbr?: boolean;
  reverseOnly?: boolean;
  lengths?: number[];
  h0?: Float64Array;
  c0?: Float64Array;
}

function onnxSpec(o: SpecOptions): { Y: Float64Array; Yh: Float64Array; Yc: Float64Array } {
  const { T, B, I, H, D } = o;
  const G = { GRU: 3, LSTM: 4, RNN: 1 }[o.op];
  const σ = sigmoid64;
  const Y = new Float64Array(T * D * B * H);
  const Yh = new Float64Array(D * B * H);
  const Yc = new Float64Array(D * B * H);
  // (M v)[r] for rows r of direction d's [G·H, K] matrix.
  const mv = (M: Float64Array, d: number, K: number, v: ArrayLike<number>, r: number) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += M[(d * G * H + r) * K + k] * v[k];
    return s;
  };
  const Wb = (d: number, r: number) => o.Bias[d * 2 * G * H + r];
  const Rb = (d: number, r: number) => o.Bias[d * 2 * G * H + G * H + r];
  for (let d = 0; d < D; d++) {
    const backward = o.reverseOnly || d === 1;
    for (let b = 0; b < B; b++) {
      const len = o.lengths ? o.lengths[b] : T;
      let h = Array.from({ length: H }, (_, j) => (o.h0 ? o.h0[(d * B + b) * H + j] : 0));
      let c = Array.from({ length: H }, (_, j) => (o.c0 ? o.c0[(d * B + b) * H + j] : 0));
      for (let s = 0; s < len; s++) {
        const t = backward ? len - 1 - s : s;
        const x = o.X.subarray((t * B + b) * I, (t * B + b + 1) * I);
        const pre = (r: number) => mv(o.W, d, I, x, r) + mv(o.R, d, H, h, r) + Wb(d, r) + Rb(d, r);
        if (o.op === 'RNN') {
          h = h.map((_, j) => Math.tanh(pre(j)));
        } else if (o.op === 'GRU') {
          const z = h.map((_, j) => σ(pre(j)));
          const r = h.map((_, j) => σ(pre(H + j)));
          const rh = h.map((v, j) => r[j] * v);
          const hTilde = h.map((_, j) => {
            const xw = mv(o.W, d, I, x, 2 * H + j) + Wb(d, 2 * H + j);
            return o.lbr
              ? Math.tanh(xw + r[j] * (mv(o.R, d, H, h, 2 * H + j) + Rb(d, 2 * H + j)))
              : Math.tanh(xw + mv(o.R, d, H, rh, 2 * H + j) + Rb(d, 2 * H + j));
          });
          h = h.map((v, j) => (1 - z[j]) * hTilde[j] + z[j] * v);
        } else {
          const P = (g: number, j: number) => (o.P ? o.P[d * 3 * H + g * H + j] : 0); // g: 0 i, 1 o, 2 f
          const i = h.map((_, j) => σ(pre(j) + P(0, j) * c[j]));
          const f = h.map((_, j) => σ(pre(2 * H + j) + P(2, j) * c[j]));
          const g = h.map((_, j) => Math.tanh(pre(3 * H + j)));
          c = c.map((v, j) => f[j] * v + i[j] * g[j]);
          const oGate = h.map((_, j) => σ(pre(H + j) + P(1, j) * c[j]));
          h = h.map((_, j) => oGate[j] * Math.tanh(c[j]));
        }
        Y.set(h, ((t * D + d) * B + b) * H);
      }
      Yh.set(h, (d * B + b) * H);
      Yc.set(c, (d * B + b) * H);
    }
  }
  return { Y, Yh, Yc };
}

/** Run random weights through onnxSpec and through converter + reference; return the largest difference. */
function compareWithSpec(
  op: SpecOptions['op'],
  opts: { D: number; lbr?: boolean; reverseOnly?: boolean; lengths?: number[]; peepholes?: boolean; seed: number },
): number {
  const [T, B, I, H] = [5, 3, 4, 3];
  const G = { GRU: 3, LSTM: 4, RNN: 1 }[op];
  const rnd = random(opts.seed);
  const D = opts.D;
  const spec: SpecOptions = {
    op,
    T,
    B,
    I,
    H,
    D,
    X: rnd(T * B * I),
    W: rnd(D * G * H * I, 0.8),
    R: rnd(D * G * H * H, 0.8),
    Bias: rnd(D * 2 * G * H, 0.5),
    h0: rnd(D * B * H, 0.5),
    c0: rnd(D * B * H, 0.5),
    ...(opts.peepholes ? { P: rnd(D * 3 * H, 0.7) } : {}),
    ...(opts.lbr ? { lbr: true } : {}),
    ...(opts.reverseOnly ? { reverseOnly: true } : {}),
    ...(opts.lengths ? { lengths: opts.lengths } : {}),
  };
  const want = onnxSpec(spec);
  let worst = 0;
  for (let d = 0; d < D; d++) {
    const common = {
      x: spec.X,
      T,
      B,
      I,
      H,
      h0: spec.h0!.slice(d * B * H, (d + 1) * B * H),
      reverse: Boolean(opts.reverseOnly) || d === 1,
      ...(opts.lengths ? { lengths: opts.lengths } : {}),
    };
    const weights = { W: spec.W, R: spec.R, B: spec.Bias, hiddenSize: H };
    let got: { output: Float64Array; hN: Float64Array; cN?: Float64Array };
    if (op === 'GRU') {
      const w = gruFromOnnx({ ...weights, linearBeforeReset: Boolean(opts.lbr) })[d]!;
      expect(w.W).toBeInstanceOf(Float64Array);
      got = gru64({ ...common, ...w });
    } else if (op === 'LSTM') {
      const w = lstmFromOnnx({ ...weights, ...(spec.P ? { P: spec.P } : {}) })[d]!;
      got = lstm64({ ...common, ...w, c0: spec.c0!.slice(d * B * H, (d + 1) * B * H) });
    } else {
      got = rnn64({ ...common, ...rnnFromOnnx(weights)[d]! });
    }
    for (let t = 0; t < T; t++) {
      worst = Math.max(
        worst,
        maxAbsDiff(
          got.output.subarray(t * B * H, (t + 1) * B * H),
          want.Y.subarray((t * D + d) * B * H, (t * D + d + 1) * B * H),
        ),
      );
    }
    worst = Math.max(worst, maxAbsDiff(got.hN, want.Yh.subarray(d * B * H, (d + 1) * B * H)));
    if (got.cN) worst = Math.max(worst, maxAbsDiff(got.cN, want.Yc.subarray(d * B * H, (d + 1) * B * H)));
  }
  return worst;
}

describe('converters against the ONNX equations on random weights', () => {
  const lengths = [5, 2, 0];
  for (const lbr of [false, true]) {
    it(`GRU, linear_before_reset=${Number(lbr)}: forward, reverse, bidirectional, sequence_lens`, () => {
      expect(compareWithSpec('GRU', { D: 1, lbr, seed: 1 })).toBeLessThan(1e-12);
      expect(compareWithSpec('GRU', { D: 1, lbr, reverseOnly: true, seed: 2 })).toBeLessThan(1e-12);
      expect(compareWithSpec('GRU', { D: 2, lbr, seed: 3 })).toBeLessThan(1e-12);
      expect(compareWithSpec('GRU', { D: 2, lbr, lengths, seed: 4 })).toBeLessThan(1e-12);
    });
  }
  it('LSTM, with and without peepholes: forward, reverse, bidirectional, sequence_lens', () => {
    for (const peepholes of [false, true]) {
      expect(compareWithSpec('LSTM', { D: 1, peepholes, seed: 5 })).toBeLessThan(1e-12);
      expect(compareWithSpec('LSTM', { D: 1, peepholes, reverseOnly: true, seed: 6 })).toBeLessThan(1e-12);
      expect(compareWithSpec('LSTM', { D: 2, peepholes, lengths, seed: 7 })).toBeLessThan(1e-12);
    }
  });
  it('RNN: forward, reverse, bidirectional, sequence_lens', () => {
    expect(compareWithSpec('RNN', { D: 1, seed: 8 })).toBeLessThan(1e-12);
    expect(compareWithSpec('RNN', { D: 1, reverseOnly: true, seed: 9 })).toBeLessThan(1e-12);
    expect(compareWithSpec('RNN', { D: 2, lengths, seed: 10 })).toBeLessThan(1e-12);
  });
  it('keeps float32 weights float32, and places gates as documented', () => {
    // ONNX GRU, H = 1, I = 1: W rows z, r, h = 1, 2, 3; R rows 4, 5, 6; B = Wb 7 8 9 | Rb 10 11 12.
    const onnx = {
      W: Float32Array.of(1, 2, 3),
      R: Float32Array.of(4, 5, 6),
      B: Float32Array.of(7, 8, 9, 10, 11, 12),
      hiddenSize: 1,
    };
    const [g0] = gruFromOnnx(onnx);
    expect(g0!.W).toBeInstanceOf(Float32Array);
    expect(Array.from(g0!.W)).toEqual([-1, 2, 3]);
    expect(Array.from(g0!.U)).toEqual([-4, 5, 6]);
    expect(Array.from(g0!.b)).toEqual([-17, 19, 21]);
    expect(g0!.c).toBeUndefined();
    const [g1] = gruFromOnnx({ ...onnx, linearBeforeReset: true });
    expect(Array.from(g1!.b)).toEqual([-17, 19, 9]);
    expect(Array.from(g1!.c!)).toEqual([12]);
    // ONNX LSTM rows i, o, f, c = 1, 2, 3, 4 → seed i, f, g, o = 1, 3, 4, 2; P i, o, f → i, f, o.
    const [l] = lstmFromOnnx({
      W: Float32Array.of(1, 2, 3, 4),
      R: new Float32Array(4),
      hiddenSize: 1,
      P: Float32Array.of(1, 2, 3),
    });
    expect(Array.from(l!.W)).toEqual([1, 3, 4, 2]);
    expect(Array.from(l!.peepholes!)).toEqual([1, 3, 2]);
    expect(() => gruFromOnnx({ ...onnx, B: new Float32Array(5) })).toThrow(/ONNX GRU: B has 5 values/);
  });
  it('rejects attributes the seed does not implement', () => {
    const node = (attributes: OnnxNode['attributes']): OnnxNode => ({
      opType: 'GRU',
      name: 'g',
      inputs: [],
      outputs: [],
      attributes,
    });
    expect(onnxRecurrentAttributes(node({ hidden_size: 4, activations: ['Sigmoid', 'Tanh'] })).hiddenSize).toBe(4);
    expect(() => onnxRecurrentAttributes(node({ hidden_size: 4, activations: ['Relu', 'Tanh'] }))).toThrow(
      /activations .* not supported/,
    );
    expect(() => onnxRecurrentAttributes(node({ hidden_size: 4, clip: 3 }))).toThrow(/clip is not supported/);
    expect(() => onnxRecurrentAttributes(node({}))).toThrow(/hidden_size/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('float64 references', () => {
  it('computes one GRU step as written out by hand (both reset placements)', () => {
    // H = I = 1: W = [wz, wr, wh], U = [uz, ur, uh], b = [bz, br, bh], c.
    const [wz, wr, wh, uz, ur, uh, bz, br, bh, c] = [0.3, -0.2, 0.5, 0.7, 0.4, -0.6, 0.1, 0.2, -0.3, 0.25];
    const [x, h] = [1.5, -0.8];
    const z = 1 / (1 + Math.exp(-(x * wz + h * uz + bz)));
    const r = 1 / (1 + Math.exp(-(x * wr + h * ur + br)));
    const before = Math.tanh(x * wh + r * h * uh + bh);
    const after = Math.tanh(x * wh + bh + r * (h * uh + c));
    const args = {
      x: f64([x]),
      T: 1,
      B: 1,
      I: 1,
      H: 1,
      W: f64([wz, wr, wh]),
      U: f64([uz, ur, uh]),
      b: f64([bz, br, bh]),
      h0: f64([h]),
    };
    expect(gru64({ ...args, resetAfter: false }).hN[0]).toBeCloseTo((1 - z) * h + z * before, 15);
    expect(gru64({ ...args, resetAfter: true, c: f64([c]) }).hN[0]).toBeCloseTo((1 - z) * h + z * after, 15);
  });

  it('honours lengths like packed sequences, in both directions', () => {
    const [T, B, I, H] = [4, 2, 2, 3];
    const rnd = random(42);
    const w = { W: rnd(I * 3 * H), U: rnd(H * 3 * H), b: rnd(3 * H), resetAfter: false, I, H };
    const x = rnd(T * B * I);
    for (const reverse of [false, true]) {
      const full = gru64({ ...w, x, T, B, lengths: [4, 2], reverse });
      // Sequence 1 alone, cut to its 2 steps, must give the same outputs and final state.
      const x1 = new Float64Array(2 * I);
      for (let t = 0; t < 2; t++) x1.set(x.subarray((t * B + 1) * I, (t * B + 2) * I), t * I);
      const alone = gru64({ ...w, x: x1, T: 2, B: 1, reverse });
      expect(maxAbsDiff(full.hN.subarray(H), alone.hN)).toBe(0);
      for (let t = 0; t < 2; t++)
        expect(
          maxAbsDiff(full.output.subarray((t * B + 1) * H, (t * B + 2) * H), alone.output.subarray(t * H, (t + 1) * H)),
        ).toBe(0);
      for (let t = 2; t < T; t++)
        expect(Array.from(full.output.subarray((t * B + 1) * H, (t * B + 2) * H))).toEqual([0, 0, 0]);
    }
    const empty = rnn64({
      x: rnd(T * I),
      T,
      B: 1,
      I,
      H,
      W: rnd(I * H),
      U: rnd(H * H),
      h0: f64([1, 2, 3]),
      lengths: [0],
    });
    expect(Array.from(empty.hN)).toEqual([1, 2, 3]);
    expect(() => rnn64({ x: rnd(T * I), T, B: 1, I, H, W: rnd(I * H), U: rnd(H * H), lengths: [5] })).toThrow(/length/);
  });

  it('stays finite for huge pre-activations', () => {
    expect(sigmoid64(1000)).toBe(1);
    expect(sigmoid64(-1000)).toBe(0);
    const big = { x: f64([1000, -1000]), T: 2, B: 1, I: 1, H: 1 };
    const g = gru64({ ...big, W: f64([1000, -1000, 1000]), U: f64([1, 1, 1]), resetAfter: false });
    const l = lstm64({ ...big, W: f64([1000, 1000, 1000, 1000]), U: f64([1, 1, 1, 1]) });
    for (const v of [...g.output, ...l.output, ...l.cN]) expect(Number.isFinite(v)).toBe(true);
  });

  it('rejects arrays of the wrong size with the expected shape in the message', () => {
    expect(() =>
      gru64({ x: new Float64Array(4), T: 2, B: 1, I: 2, H: 2, W: new Float64Array(5), U: new Float64Array(12) }),
    ).toThrow(/W has 5 values, expected 12 \(\[I, 3H\]\)/);
  });
});

// ---------------------------------------------------------------------------------------------
// TensorProto bytes by hand: tag = field number << 3 | wire type (0 varint, 2 length-delimited, 5 fixed32).

function varint(v: bigint): number[] {
  const out: number[] = [];
  let u = BigInt.asUintN(64, v);
  while (u > 127n) {
    out.push(Number(u & 127n) | 128);
    u >>= 7n;
  }
  out.push(Number(u));
  return out;
}
function tensorBytes(t: {
  dims: number[];
  dataType: number;
  floats?: number[];
  int64s?: bigint[];
  raw?: Uint8Array;
}): Uint8Array {
  const bytes: number[] = [];
  for (const d of t.dims) bytes.push(0x08, ...varint(BigInt(d)));
  bytes.push(0x10, ...varint(BigInt(t.dataType)));
  for (const f of t.floats ?? []) bytes.push(0x25, ...new Uint8Array(Float32Array.of(f).buffer)); // field 4, fixed32, unpacked
  for (const v of t.int64s ?? []) bytes.push(0x38, ...varint(v)); // field 7, varint, unpacked
  if (t.raw) bytes.push(0x4a, ...varint(BigInt(t.raw.length)), ...t.raw); // field 9, bytes
  return Uint8Array.from(bytes);
}

describe('readTensorProto and readOnnxModel', () => {
  const sample = () => readFileSync(path.join(onnxDir, 'test_gru_seq_length/test_data_set_0/input_1.pb'));

  it('reads float_data, raw_data and int64_data', () => {
    expect(readTensorProto(tensorBytes({ dims: [2], dataType: 1, floats: [1.5, -2] })).data).toEqual(
      Float32Array.of(1.5, -2),
    );
    const raw = new Uint8Array(Float32Array.of(3, 4, 5).buffer);
    expect(readTensorProto(tensorBytes({ dims: [3, 1], dataType: 1, raw }))).toEqual({
      name: '',
      dims: [3, 1],
      data: Float32Array.of(3, 4, 5),
    });
    expect(readTensorProto(tensorBytes({ dims: [2], dataType: 7, int64s: [-5n, 7n] })).data).toEqual(
      Int32Array.of(-5, 7),
    );
    expect(
      readTensorProto(tensorBytes({ dims: [2], dataType: 6, raw: new Uint8Array(Int32Array.of(-1, 9).buffer) })).data,
    ).toEqual(Int32Array.of(-1, 9));
  });

  it('throws readable Errors for truncated bytes, whatever the cut', () => {
    const bytes = sample();
    expect(readTensorProto(bytes).dims).toEqual([1, 15, 3]);
    for (let n = 0; n < bytes.length; n++) {
      expect(() => readTensorProto(bytes.subarray(0, n), 'input_1.pb')).toThrow(/^ONNX: (cannot parse )?input_1\.pb/);
    }
    expect(() => readTensorProto(bytes.subarray(0, bytes.length - 3), 'input_1.pb')).toThrow(
      /ONNX: cannot parse input_1\.pb: .*truncated/,
    );
  });

  it('names the problem: unsupported dtype, wrong count, int64 out of range', () => {
    expect(() => readTensorProto(tensorBytes({ dims: [1], dataType: 11 }), 'x.pb')).toThrow(
      'ONNX: x.pb: data_type 11 (DOUBLE) is not supported',
    );
    expect(() => readTensorProto(tensorBytes({ dims: [2, 3], dataType: 1, floats: [1, 2, 3, 4, 5] }), 'x.pb')).toThrow(
      /float_data holds 5 values but dims \[2, 3\] need 6/,
    );
    expect(() => readTensorProto(tensorBytes({ dims: [2], dataType: 1, raw: new Uint8Array(7) }))).toThrow(
      /raw_data holds 7 bytes/,
    );
    expect(() => readTensorProto(tensorBytes({ dims: [1], dataType: 7, int64s: [2n ** 40n] }))).toThrow(
      /int64 value \[0\] = 1099511627776 is out of range/,
    );
  });

  it('wraps parse failures of models', () => {
    const model = readFileSync(path.join(onnxDir, 'test_gru_defaults/model.onnx'));
    expect(() => readOnnxModel(model.subarray(0, Math.floor(model.length / 2)))).toThrow(/^ONNX: cannot parse model: /);
    expect(() => readOnnxModel(Uint8Array.of(0xff, 0xff, 0xff))).toThrow(/^ONNX: cannot parse model: /);
    expect(() => readOnnxModel(new Uint8Array(0))).toThrow(/no graph/);
  });

  it('decodes node attributes', () => {
    const model = readOnnxModel(readFileSync(path.join(onnxDir, 'test_lstm_with_peepholes/model.onnx')));
    const node = model.nodes[0]!;
    expect(node.opType).toBe('LSTM');
    expect(node.attributes).toEqual({ hidden_size: 3 });
    expect(node.inputs).toEqual(['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h', 'initial_c', 'P']);
    expect(node.outputs).toEqual(['', 'Y']);
  });
});
