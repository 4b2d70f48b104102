/**
 * The PyTorch, Keras and ONNX importers and exporters:
 * (a) round trips are bitwise exact (signed zeros included), on host arrays and on Tensors;
 * (b) PyTorch's GRU equations, written out here literally in float64, agree with wgru's GRU on
 *     imported weights;
 * (c) ONNX's own GRU test vectors, imported with fromOnnxGRU and run through wgru's GRU module;
 * (d) TensorFlow.js's GRU layer, an independent implementation, agrees with wgru on weights
 *     imported with fromKerasGRU: forward and gradients.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { noGrad, type Variable, variable } from '@wgru/autograd';
import { setBackend, type Tensor, tensor } from '@wgru/tensor';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FC_SEED, forEachBackend } from '../../../test-support/backends.js';
import type { HostArray, ShapedArray } from '../src/importers/common.js';
import { fromKerasGRU, toKerasGRU } from '../src/importers/keras.js';
import { fromOnnxGRU, type OnnxTensorInput, toOnnxGRUWeights } from '../src/importers/onnx.js';
import { fromPyTorchGRU, fromPyTorchGRUCell, toPyTorchGRU, toPyTorchGRUCell } from '../src/importers/pytorch.js';
import { readOnnxModel, readTensorProto } from '../src/onnx/read.js';
import { GRU, GRUCell } from '../src/rnn/gru.js';
import { maxAbsDiff, onnxReferenceDir } from '../../../test-support/reference.js';

const onnxDir = onnxReferenceDir;

// ---------------------------------------------------------------------------------------------
// Helpers

/** The bytes of a float array: equal bytes means equal bits, −0 and +0 told apart. */
const bytesOf = (a: HostArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function expectSameBits(got: HostArray | undefined, want: HostArray | undefined, label: string): void {
  expect(got, label).toBeDefined();
  expect(got?.constructor, label).toBe(want?.constructor);
  expect(got?.length, label).toBe(want?.length);
  const [g, w] = [bytesOf(got as HostArray), bytesOf(want as HostArray)];
  const differ = g.findIndex((v, i) => v !== w[i]);
  if (differ >= 0) {
    const k = Math.floor(differ / (want as HostArray).BYTES_PER_ELEMENT);
    expect.fail(
      `${label}: element ${k} is ${Object.is(got?.[k], -0) ? '-0' : got?.[k]}, expected ${Object.is(want?.[k], -0) ? '-0' : want?.[k]}`,
    );
  }
}

function expectSameDict(
  got: Record<string, HostArray | ShapedArray>,
  want: Record<string, HostArray | ShapedArray>,
  label: string,
): void {
  expect(Object.keys(got).sort(), label).toEqual(Object.keys(want).sort());
  const data = (v: HostArray | ShapedArray) => (v instanceof Float32Array || v instanceof Float64Array ? v : v.data);
  for (const k of Object.keys(want))
    expectSameBits(data(got[k] as HostArray), data(want[k] as HostArray), `${label} '${k}'`);
}

/** A small deterministic generator of values in (−scale, scale). */
function random(seed: number): (n: number, scale?: number) => Float64Array {
  let s = seed >>> 0;
  return (n, scale = 1) =>
    Float64Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return scale * (2 * ((s + 0.5) / 2 ** 32) - 1);
    });
}

const σ = (a: number) => 1 / (1 + Math.exp(-a));

/** Sizes of a random GRU for the property tests. */
interface Config {
  I: number;
  H: number;
  L: number;
  D: 1 | 2;
  bias: boolean;
  resetAfter: boolean;
}

const configArb = (resetAfter?: boolean): fc.Arbitrary<Config> =>
  fc.record({
    I: fc.integer({ min: 1, max: 4 }),
    H: fc.integer({ min: 1, max: 4 }),
    L: fc.integer({ min: 1, max: 2 }),
    D: fc.constantFrom<1 | 2>(1, 2),
    bias: fc.boolean(),
    resetAfter: resetAfter === undefined ? fc.boolean() : fc.constant(resetAfter),
  });

/** Any float32 but NaN and ±Inf: ±0, subnormals and huge values included. */
const BIG = Math.fround(1e30);
const floats = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, min: -BIG, max: BIG });

/** A random dict with the given keys and shapes, as Float32Arrays. */
const dictArb = (shapes: Array<[string, number[]]>): fc.Arbitrary<Record<string, Float32Array>> =>
  fc
    .tuple(...shapes.map(([, s]) => floats(s.reduce((a, b) => a * b, 1))))
    .map((arrays) => Object.fromEntries(shapes.map(([k], i) => [k, arrays[i] as Float32Array])));

/** The parameter names and shapes of a wgru GRU of this config. */
function seedShapes(c: Config): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  for (let k = 0; k < c.L; k++) {
    for (let d = 0; d < c.D; d++) {
      const p = d === 0 ? `l${k}.` : `l${k}_reverse.`;
      const I = k === 0 ? c.I : c.D * c.H;
      out.push([`${p}W`, [I, 3 * c.H]], [`${p}U`, [c.H, 3 * c.H]]);
      if (c.bias) out.push([`${p}b`, [3 * c.H]]);
      if (c.bias && c.resetAfter) out.push([`${p}c`, [c.H]]);
    }
  }
  return out;
}

/** The state-dict keys and shapes of a PyTorch nn.GRU of this config. */
function torchShapes(c: Config): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  for (let k = 0; k < c.L; k++) {
    for (let d = 0; d < c.D; d++) {
      const s = `_l${k}${d === 1 ? '_reverse' : ''}`;
      out.push([`weight_ih${s}`, [3 * c.H, k === 0 ? c.I : c.D * c.H]], [`weight_hh${s}`, [3 * c.H, c.H]]);
      if (c.bias) out.push([`bias_ih${s}`, [3 * c.H]], [`bias_hh${s}`, [3 * c.H]]);
    }
  }
  return out;
}

const layoutOf = (c: Config) => ({
  inputSize: c.I,
  hiddenSize: c.H,
  numLayers: c.L,
  bidirectional: c.D === 2,
  resetAfter: c.resetAfter,
});

/** Reads every Tensor of a dict to the host. */
async function readAll(d: Record<string, Tensor>): Promise<Record<string, HostArray>> {
  const out: Record<string, HostArray> = {};
  for (const [k, t] of Object.entries(d)) out[k] = (await t.data()) as HostArray;
  return out;
}

// A minimal ONNX writer for the round trip through a real .onnx file: the fields that read.ts
// reads (field numbers from onnx.proto), weights as initializers in little-endian raw_data.
// The test writes .onnx files with its OWN schema (field numbers from onnx.proto), not with the
// reader's: a wrong field number in either would then fail the round trip instead of hiding.
const onnxSchema = protobuf.Root.fromJSON({
  nested: {
    TensorProto: {
      fields: {
        dims: { id: 1, type: 'int64', rule: 'repeated' },
        dataType: { id: 2, type: 'int32' },
        name: { id: 8, type: 'string' },
        rawData: { id: 9, type: 'bytes' },
      },
    },
    AttributeProto: {
      fields: {
        name: { id: 1, type: 'string' },
        i: { id: 3, type: 'int64' },
        s: { id: 4, type: 'bytes' },
        type: { id: 20, type: 'int32' },
      },
    },
    ValueInfoProto: { fields: { name: { id: 1, type: 'string' } } },
    NodeProto: {
      fields: {
        input: { id: 1, type: 'string', rule: 'repeated' },
        output: { id: 2, type: 'string', rule: 'repeated' },
        name: { id: 3, type: 'string' },
        opType: { id: 4, type: 'string' },
        attribute: { id: 5, type: 'AttributeProto', rule: 'repeated' },
      },
    },
    GraphProto: {
      fields: {
        node: { id: 1, type: 'NodeProto', rule: 'repeated' },
        initializer: { id: 5, type: 'TensorProto', rule: 'repeated' },
        input: { id: 11, type: 'ValueInfoProto', rule: 'repeated' },
        output: { id: 12, type: 'ValueInfoProto', rule: 'repeated' },
      },
    },
    ModelProto: { fields: { graph: { id: 7, type: 'GraphProto' } } },
  },
});

function writeGruModel(
  weights: Record<string, ShapedArray<Float32Array>>,
  attrs: { hidden_size: number; direction: string; linear_before_reset: number },
): Uint8Array {
  const ModelProto = onnxSchema.lookupType('ModelProto');
  const names = ['W', 'R', 'B'].filter((n) => n in weights);
  const initializer = names.map((n) => {
    const w = weights[n] as ShapedArray<Float32Array>;
    return {
      name: n,
      dims: [...w.shape],
      dataType: 1,
      rawData: new Uint8Array(w.data.buffer.slice(w.data.byteOffset, w.data.byteOffset + w.data.byteLength)),
    };
  });
  const attribute = [
    { name: 'hidden_size', i: attrs.hidden_size, type: 2 },
    { name: 'linear_before_reset', i: attrs.linear_before_reset, type: 2 },
    { name: 'direction', s: new TextEncoder().encode(attrs.direction), type: 3 },
  ];
  const graph = {
    node: [{ input: ['X', ...names], output: ['Y', 'Y_h'], name: 'gru', opType: 'GRU', attribute }],
    initializer,
    input: [{ name: 'X' }, ...names.map((name) => ({ name }))],
    output: [{ name: 'Y' }, { name: 'Y_h' }],
  };
  return ModelProto.encode(ModelProto.fromObject({ graph })).finish();
}

// ---------------------------------------------------------------------------------------------
// (a) Round trips

describe('round trips are bitwise exact (host arrays)', () => {
  it('wgru → PyTorch → wgru, nn.GRU (resetAfter: true), float32 and float64', () => {
    fc.assert(
      fc.property(
        configArb(true).chain((c) => fc.tuple(fc.constant(c), dictArb(seedShapes(c)))),
        ([c, seed]) => {
          const torch = toPyTorchGRU(seed, layoutOf(c));
          expect(Object.keys(torch).sort()).toEqual(
            torchShapes(c)
              .map(([k]) => k)
              .sort(),
          );
          for (const [k, shape] of torchShapes(c)) expect(torch[k]?.shape, k).toEqual(shape);
          expectSameDict(
            fromPyTorchGRU(torch, { inputSize: c.I, hiddenSize: c.H, numLayers: c.L, bidirectional: c.D === 2 }),
            seed,
            'f32',
          );
          const seed64 = Object.fromEntries(Object.entries(seed).map(([k, v]) => [k, Float64Array.from(v)]));
          const back64 = fromPyTorchGRU(toPyTorchGRU(seed64, layoutOf(c)), {
            inputSize: c.I,
            hiddenSize: c.H,
            numLayers: c.L,
            bidirectional: c.D === 2,
          });
          expectSameDict(back64, seed64, 'f64');
        },
      ),
      { seed: FC_SEED, numRuns: 60 },
    );
  });

  it('PyTorch → wgru → PyTorch keeps every weight and folds the z, r biases into bias_ih (documented)', () => {
    fc.assert(
      fc.property(
        configArb(true).chain((c) => fc.tuple(fc.constant(c), dictArb(torchShapes(c)))),
        ([c, torch]) => {
          const opts = { inputSize: c.I, hiddenSize: c.H, numLayers: c.L, bidirectional: c.D === 2 };
          const back = toPyTorchGRU(fromPyTorchGRU(torch, opts), layoutOf(c));
          const H = c.H;
          for (const [k, shape] of torchShapes(c)) {
            const got = (back[k] as ShapedArray<Float32Array>).data;
            const want = torch[k] as Float32Array;
            if (k.startsWith('weight')) expectSameBits(got, want, k);
            else if (k.startsWith('bias_ih')) {
              // [b_ir + b_hr, b_iz + b_hz, b_in]: float32 sums, b_in copied
              const hh = torch[k.replace('bias_ih', 'bias_hh')] as Float32Array;
              const expected = Float32Array.from(want, (v, i) => (i < 2 * H ? v + hh[i] : v));
              expectSameBits(got, expected, k);
            } else {
              const expected = Float32Array.from(want, (v, i) => (i < 2 * H ? -0 : v)); // [−0, −0, b_hn]
              expectSameBits(got, expected, k);
            }
            expect(shape).toEqual([...(back[k] as ShapedArray).shape]);
          }
        },
      ),
      { seed: FC_SEED, numRuns: 40 },
    );
  });

  it('nn.GRUCell both ways', () => {
    const cellArb = fc
      .record({ I: fc.integer({ min: 1, max: 5 }), H: fc.integer({ min: 1, max: 5 }), bias: fc.boolean() })
      .chain(({ I, H, bias }) =>
        fc.tuple(
          fc.constant({ I, H, bias }),
          dictArb([
            ['W', [I, 3 * H]],
            ['U', [H, 3 * H]],
            ...(bias
              ? ([
                  ['b', [3 * H]],
                  ['c', [H]],
                ] as Array<[string, number[]]>)
              : []),
          ]),
        ),
      );
    fc.assert(
      fc.property(cellArb, ([{ I, H, bias }, cell]) => {
        const torch = toPyTorchGRUCell(cell, { inputSize: I, hiddenSize: H, resetAfter: true });
        expect(Object.keys(torch).sort()).toEqual(
          bias ? ['bias_hh', 'bias_ih', 'weight_hh', 'weight_ih'] : ['weight_hh', 'weight_ih'],
        );
        expect(torch.weight_ih?.shape).toEqual([3 * H, I]);
        expectSameDict(fromPyTorchGRUCell(torch, { inputSize: I, hiddenSize: H }), cell, 'cell');
      }),
      { seed: FC_SEED, numRuns: 30 },
    );
  });

  it('wgru ↔ Keras, both reset_after settings, with and without bias', () => {
    fc.assert(
      fc.property(
        configArb().chain((c) =>
          fc.tuple(fc.constant({ ...c, L: 1, D: 1 as const }), dictArb(seedShapes({ ...c, L: 1, D: 1 }))),
        ),
        ([c, seed]) => {
          const keras = toKerasGRU(seed, { inputSize: c.I, hiddenSize: c.H, resetAfter: c.resetAfter });
          expect(keras.map((w) => [...w.shape])).toEqual([
            [c.I, 3 * c.H],
            [c.H, 3 * c.H],
            ...(c.bias ? [c.resetAfter ? [2, 3 * c.H] : [3 * c.H]] : []),
          ]);
          const back = fromKerasGRU(keras, {
            inputSize: c.I,
            hiddenSize: c.H,
            ...(c.bias ? {} : { resetAfter: c.resetAfter }),
          });
          expectSameDict(back, seed, 'keras');
          // Keras → wgru → Keras: exact except that reset_after=True folds the recurrent z, r biases into the input row.
          const again = toKerasGRU(back, { inputSize: c.I, hiddenSize: c.H, resetAfter: c.resetAfter });
          for (let i = 0; i < keras.length; i++) expectSameBits(again[i]?.data, keras[i]?.data, `keras[${i}]`);
        },
      ),
      { seed: FC_SEED, numRuns: 60 },
    );
  });

  it('Keras reset_after=True → wgru → Keras folds recurrent z, r biases into the input row', () => {
    const H = 2;
    const bias = Float32Array.of(1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60); // [2, 3H]: input row, recurrent row
    const seed = fromKerasGRU([new Float32Array(3 * H), new Float32Array(H * 3 * H), bias], {
      inputSize: 1,
      hiddenSize: H,
      prefix: '',
    });
    expect(Array.from(seed.b as Float32Array)).toEqual([-11, -22, 33, 44, 5, 6]);
    expect(Array.from(seed.c as Float32Array)).toEqual([50, 60]);
    const [, , b] = toKerasGRU(seed, { inputSize: 1, hiddenSize: H, resetAfter: true, prefix: '' });
    expect(b?.shape).toEqual([2, 3 * H]);
    expectSameBits(b?.data, Float32Array.of(11, 22, 33, 44, 5, 6, -0, -0, -0, -0, 50, 60), 'bias');
  });

  it('wgru → ONNX (a real .onnx file with initializers) → fromOnnxGRU → wgru', () => {
    fc.assert(
      fc.property(
        configArb().chain((c) => fc.tuple(fc.constant({ ...c, L: 1 }), dictArb(seedShapes({ ...c, L: 1 })))),
        ([c, seed]) => {
          const onnx = toOnnxGRUWeights(seed, layoutOf(c));
          expect([...onnx.W.shape]).toEqual([c.D, 3 * c.H, c.I]);
          expect([...onnx.R.shape]).toEqual([c.D, 3 * c.H, c.H]);
          expect(onnx.B?.shape).toEqual(c.bias ? [c.D, 6 * c.H] : undefined);
          expect(onnx.attributes).toEqual({
            hidden_size: c.H,
            direction: c.D === 2 ? 'bidirectional' : 'forward',
            linear_before_reset: c.resetAfter ? 1 : 0,
          });
          const bytes = writeGruModel(onnx as unknown as Record<string, ShapedArray<Float32Array>>, onnx.attributes);
          const imported = fromOnnxGRU(bytes);
          expect(imported.options).toEqual({
            inputSize: c.I,
            hiddenSize: c.H,
            numLayers: 1,
            bidirectional: c.D === 2,
            resetAfter: c.resetAfter,
            batchFirst: false,
            bias: c.bias,
          });
          expect(imported.direction).toBe(c.D === 2 ? 'bidirectional' : 'forward');
          expectSameDict(imported.stateDict, seed, 'onnx');
        },
      ),
      { seed: FC_SEED, numRuns: 60 },
    );
  });
});

forEachBackend('importers on Tensors give the same bits as on host arrays', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('fromPyTorchGRU / toPyTorchGRU / Keras / ONNX exporters on Tensors and on modules', async () => {
    const c: Config = { I: 3, H: 4, L: 2, D: 2, bias: true, resetAfter: true };
    const [torch] = fc.sample(dictArb(torchShapes(c)), { seed: FC_SEED, numRuns: 1 }) as [Record<string, Float32Array>];
    const opts = { inputSize: c.I, hiddenSize: c.H, numLayers: c.L, bidirectional: true };
    const shapes = new Map(torchShapes(c));
    const tensors = Object.fromEntries(Object.entries(torch).map(([k, v]) => [k, tensor(v, shapes.get(k))]));
    const onHost = fromPyTorchGRU(torch, opts);
    const onDevice = fromPyTorchGRU(tensors, opts);
    expect(onDevice['l1_reverse.W']?.shape).toEqual([2 * c.H, 3 * c.H]);
    expectSameDict(await readAll(onDevice), onHost, `fromPyTorchGRU on ${name}`);

    // Load into a GRU, export the module: same bits as exporting the host dict.
    const gru = new GRU({ ...opts, resetAfter: true, seed: 3 });
    gru.loadStateDict(onDevice);
    expectSameDict(await readAll(gru.stateDict()), onHost, 'loaded');
    const exported = await readAll(toPyTorchGRU(gru));
    const want = toPyTorchGRU(onHost, layoutOf(c));
    expectSameDict(
      exported,
      Object.fromEntries(Object.entries(want).map(([k, v]) => [k, v.data])),
      `toPyTorchGRU on ${name}`,
    );

    const keras = toKerasGRU(gru, { layer: 1, reverse: true });
    const kerasHost = toKerasGRU(onHost, {
      inputSize: 2 * c.H,
      hiddenSize: c.H,
      resetAfter: true,
      prefix: 'l1_reverse.',
    });
    for (let i = 0; i < 3; i++)
      expectSameBits((await keras[i]?.data()) as Float32Array, kerasHost[i]?.data, `keras[${i}]`);
    expect(keras[2]?.shape).toEqual([2, 3 * c.H]);

    const onnx = toOnnxGRUWeights(gru, { layer: 0 });
    const onnxHost = toOnnxGRUWeights(onHost, { ...layoutOf(c), layer: 0 });
    for (const k of ['W', 'R', 'B'] as const)
      expectSameBits((await onnx[k]?.data()) as Float32Array, onnxHost[k]?.data, `onnx ${k}`);
    expect(() => toOnnxGRUWeights(gru)).toThrow(/2 layers and an ONNX GRU node is one: pass \{ layer \}/);

    const cell = new GRUCell({ inputSize: 2, hiddenSize: 3, resetAfter: true, seed: 9 });
    const cellTorch = toPyTorchGRUCell(cell);
    expect(cellTorch.weight_ih?.shape).toEqual([9, 2]);
    expectSameDict(
      await readAll(fromPyTorchGRUCell(cellTorch, { inputSize: 2, hiddenSize: 3 })),
      await readAll(cell.stateDict()),
      'cell',
    );
  });
});

describe('importers reject what they cannot map', () => {
  const opts = { inputSize: 2, hiddenSize: 3 };
  const torchCell = {
    weight_ih: new Float32Array(18),
    weight_hh: new Float32Array(27),
    bias_ih: new Float32Array(9),
    bias_hh: new Float32Array(9),
  };

  it('names missing, unexpected and misshapen keys', () => {
    expect(() => fromPyTorchGRU({ weight_ih_l0: new Float32Array(18) }, opts)).toThrow(
      /fromPyTorchGRU: missing 'weight_hh_l0'/,
    );
    expect(() => fromPyTorchGRUCell({ ...torchCell, extra: new Float32Array(1) }, opts)).toThrow(
      /unexpected keys 'extra'/,
    );
    expect(() =>
      fromPyTorchGRUCell({ ...torchCell, weight_ih: { shape: [2, 9], data: new Float32Array(18) } }, opts),
    ).toThrow(/'weight_ih' \(input weights, gates r \| z \| n\) has shape \[2, 9\]; expected shape \[9, 2\]/);
    expect(() =>
      fromPyTorchGRUCell(
        { weight_ih: torchCell.weight_ih, weight_hh: torchCell.weight_hh, bias_ih: torchCell.bias_ih },
        opts,
      ),
    ).toThrow(/both be present/);
    expect(() => fromPyTorchGRU({}, { ...opts, numLayer: 2 } as unknown as typeof opts)).toThrow(
      /unknown option 'numLayer'/,
    );
    expect(() => fromKerasGRU([new Float32Array(18), new Float32Array(27), new Float32Array(10)], opts)).toThrow(
      /bias has 10 values; expected 9 .* or 18/,
    );
    expect(() => fromKerasGRU([new Float32Array(18), new Float32Array(27)], opts)).toThrow(
      /pass the layer's reset_after/,
    );
    expect(() =>
      fromKerasGRU([new Float32Array(18), new Float32Array(27), new Float32Array(9)], { ...opts, resetAfter: true }),
    ).toThrow(/resetAfter is true but the bias has 9 values/);
  });

  it('refuses to export a reset-before GRU to PyTorch', () => {
    expect(() => toPyTorchGRU(new GRU({ inputSize: 2, hiddenSize: 3 }))).toThrow(
      /resetAfter: false.*no PyTorch weights reproduce/,
    );
    expect(() => toPyTorchGRUCell(new GRUCell({ inputSize: 2, hiddenSize: 3 }))).toThrow(/resetAfter: false/);
    expect(() =>
      toPyTorchGRU({}, { inputSize: 2, hiddenSize: 3 } as unknown as Parameters<typeof toPyTorchGRU>[1]),
    ).toThrow(/layout.resetAfter must be true or false/);
  });

  it('ONNX: no GRU node, missing weights', () => {
    const bytes = readFileSync(path.join(onnxDir, 'test_lstm_defaults/model.onnx'));
    expect(() => fromOnnxGRU(bytes)).toThrow(/the model has no GRU node \(nodes: LSTM\)/);
    const gruBytes = readFileSync(path.join(onnxDir, 'test_gru_defaults/model.onnx'));
    expect(() => fromOnnxGRU(gruBytes)).toThrow(/W \('W'\) is neither an initializer of the model nor in inputs/);
  });
});

// ---------------------------------------------------------------------------------------------
// (b) PyTorch's equations, literally, in float64

/**
 * torch.nn.GRU as its documentation writes it, column vectors, gates r | z | n, for L layers and D
 * directions: x [T, B, I] → output [T, B, D·H], h_n [L·D, B, H].
 */
function pytorchGru(
  sd: Record<string, Float64Array>,
  c: Config,
  x: Float64Array,
  T: number,
  B: number,
  h0?: Float64Array,
): { output: Float64Array; hN: Float64Array } {
  const { H, L, D } = c;
  const hN = new Float64Array(L * D * B * H);
  let input = x;
  let inSize = c.I;
  for (let k = 0; k < L; k++) {
    const out = new Float64Array(T * B * D * H);
    for (let d = 0; d < D; d++) {
      const s = `_l${k}${d === 1 ? '_reverse' : ''}`;
      const [Wih, Whh] = [sd[`weight_ih${s}`] as Float64Array, sd[`weight_hh${s}`] as Float64Array];
      const bih = sd[`bias_ih${s}`] ?? new Float64Array(3 * H);
      const bhh = sd[`bias_hh${s}`] ?? new Float64Array(3 * H);
      for (let b = 0; b < B; b++) {
        let h = Array.from({ length: H }, (_, j) => (h0 ? h0[((k * D + d) * B + b) * H + j] : 0));
        for (let step = 0; step < T; step++) {
          const t = d === 1 ? T - 1 - step : step;
          const xt = input.subarray((t * B + b) * inSize, (t * B + b + 1) * inSize);
          // W_i· x + b_i· and W_h· h + b_h· for row `row` of the [3H, ·] matrices
          const gi = (row: number) => {
            let v = bih[row];
            for (let q = 0; q < inSize; q++) v += Wih[row * inSize + q] * xt[q];
            return v;
          };
          const gh = (row: number) => {
            let v = bhh[row];
            for (let q = 0; q < H; q++) v += Whh[row * H + q] * h[q];
            return v;
          };
          // r = σ(W_ir x + b_ir + W_hr h + b_hr); z = σ(W_iz x + b_iz + W_hz h + b_hz)
          const r = h.map((_, j) => σ(gi(j) + gh(j)));
          const z = h.map((_, j) => σ(gi(H + j) + gh(H + j)));
          // n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
          const n = h.map((_, j) => Math.tanh(gi(2 * H + j) + r[j] * gh(2 * H + j)));
          // h' = (1 − z) ⊙ n + z ⊙ h
          h = h.map((hj, j) => (1 - z[j]) * n[j] + z[j] * hj);
          for (let j = 0; j < H; j++) out[(t * B + b) * D * H + d * H + j] = h[j];
        }
        hN.set(h, ((k * D + d) * B + b) * H);
      }
    }
    input = out;
    inSize = D * H;
  }
  return { output: input, hN };
}

/** A random PyTorch state dict in float64 (not rounded to float32), U(−0.8, 0.8). */
function randomTorch(c: Config, seed: number): Record<string, Float64Array> {
  const rnd = random(seed);
  return Object.fromEntries(
    torchShapes(c).map(([k, s]) => [
      k,
      rnd(
        s.reduce((a, b) => a * b, 1),
        0.8,
      ),
    ]),
  );
}

describe('PyTorch semantics: torch.nn.GRU equations in float64 vs wgru GRU on imported weights [cpu]', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });
  const configs: Config[] = [
    { I: 3, H: 4, L: 1, D: 1, bias: true, resetAfter: true },
    { I: 2, H: 3, L: 2, D: 2, bias: true, resetAfter: true },
    { I: 4, H: 2, L: 2, D: 1, bias: false, resetAfter: true },
  ];
  for (const [n, c] of configs.entries()) {
    it(`L=${c.L} D=${c.D} bias=${c.bias}: float64 within 1e-10, float32 within 2e-6`, async () => {
      const [T, B] = [6, 3];
      const rnd = random(100 + n);
      const torch = randomTorch(c, 200 + n);
      const x = rnd(T * B * c.I, 2);
      const h0 = rnd(c.L * c.D * B * c.H, 0.9);
      const want = pytorchGru(torch, c, x, T, B, h0);
      const torchOpts = { inputSize: c.I, hiddenSize: c.H, numLayers: c.L, bidirectional: c.D === 2, bias: c.bias };
      const gruOpts = { ...torchOpts, resetAfter: true };

      // float64: the importer on float64 Tensors, loaded into a float64 GRU.
      const shapes = new Map(torchShapes(c));
      const tensors = Object.fromEntries(
        Object.entries(torch).map(([k, v]) => [k, tensor(v, shapes.get(k), 'float64')]),
      );
      const gru64 = new GRU({ ...gruOpts, dtype: 'float64' });
      gru64.loadStateDict(fromPyTorchGRU(tensors, torchOpts));
      const r64 = noGrad(() =>
        gru64.forward(
          variable(tensor(x, [T, B, c.I], 'float64')),
          variable(tensor(h0, [c.L * c.D, B, c.H], 'float64')),
        ),
      );
      expect(maxAbsDiff(await r64.output.data(), want.output)).toBeLessThan(1e-10);
      expect(maxAbsDiff(await r64.hN.data(), want.hN)).toBeLessThan(1e-10);

      // float32: the importer on Float32Arrays; the reference reruns on the same rounded weights.
      const torch32 = Object.fromEntries(Object.entries(torch).map(([k, v]) => [k, Float32Array.from(v)]));
      const want32 = pytorchGru(
        Object.fromEntries(Object.entries(torch32).map(([k, v]) => [k, Float64Array.from(v)])),
        c,
        Float64Array.from(Float32Array.from(x)),
        T,
        B,
        Float64Array.from(Float32Array.from(h0)),
      );
      const gru32 = new GRU(gruOpts);
      gru32.loadStateDict(fromPyTorchGRU(torch32, torchOpts));
      const r32 = noGrad(() =>
        gru32.forward(
          variable(tensor(Float32Array.from(x), [T, B, c.I])),
          variable(tensor(Float32Array.from(h0), [c.L * c.D, B, c.H])),
        ),
      );
      expect(maxAbsDiff(await r32.output.data(), want32.output)).toBeLessThan(2e-6);
      expect(maxAbsDiff(await r32.hN.data(), want32.hN)).toBeLessThan(2e-6);
    });
  }

  it('nn.GRUCell: one step, float64 within 1e-12', async () => {
    const c: Config = { I: 3, H: 5, L: 1, D: 1, bias: true, resetAfter: true };
    const torch = randomTorch(c, 7);
    const cellDict = {
      weight_ih: torch.weight_ih_l0 as Float64Array,
      weight_hh: torch.weight_hh_l0 as Float64Array,
      bias_ih: torch.bias_ih_l0 as Float64Array,
      bias_hh: torch.bias_hh_l0 as Float64Array,
    };
    const rnd = random(8);
    const [x, h] = [rnd(2 * 3, 1.5), rnd(2 * 5, 0.9)];
    const want = pytorchGru(torch, c, x, 1, 2, h);
    const imported = fromPyTorchGRUCell(cellDict, { inputSize: 3, hiddenSize: 5 });
    const cell = new GRUCell({ inputSize: 3, hiddenSize: 5, resetAfter: true, dtype: 'float64' });
    const shapes = new Map(cell.namedParameters().map(([k, p]) => [k, p.shape]));
    cell.loadStateDict(
      Object.fromEntries(Object.entries(imported).map(([k, v]) => [k, tensor(v, shapes.get(k), 'float64')])),
    );
    const got = noGrad(() =>
      cell.forward(variable(tensor(x, [2, 3], 'float64')), variable(tensor(h, [2, 5], 'float64'))),
    );
    expect(maxAbsDiff(await got.data(), want.hN)).toBeLessThan(1e-12);
  });
});

// ---------------------------------------------------------------------------------------------
// (c) ONNX's GRU test vectors through fromOnnxGRU and wgru's GRU module

forEachBackend('ONNX GRU test vectors through fromOnnxGRU and the GRU module', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });
  const folders = readdirSync(onnxDir)
    .filter((f) => f.startsWith('test_gru'))
    .sort();

  it('finds the GRU test folders', () => {
    expect(folders).toEqual([
      'test_gru_batchwise',
      'test_gru_defaults',
      'test_gru_seq_length',
      'test_gru_with_initial_bias',
    ]);
  });

  for (const folder of folders) {
    it(folder, async () => {
      const dir = path.join(onnxDir, folder);
      const bytes = readFileSync(path.join(dir, 'model.onnx'));
      const model = readOnnxModel(bytes);
      const data = path.join(dir, 'test_data_set_0');
      const feeds: Record<string, OnnxTensorInput> = {};
      model.inputs.forEach((input, k) => {
        const t = readTensorProto(readFileSync(path.join(data, `input_${k}.pb`)), `${folder}/input_${k}.pb`);
        expect(t.name).toBe(input);
        if (!(t.data instanceof Float32Array)) throw new Error(`${folder}: input ${k} is not float32`);
        feeds[input] = { dims: t.dims, data: t.data };
      });
      const { options, stateDict, node, direction } = fromOnnxGRU(bytes, feeds);
      expect(direction).not.toBe('reverse');
      const gru = new GRU(options);
      gru.loadStateDict(stateDict);

      // The runtime inputs: X, and initial_h / sequence_lens where the node has them.
      const X = feeds[node.inputs[0] as string] as OnnxTensorInput;
      const [H, D] = [options.hiddenSize, options.bidirectional ? 2 : 1];
      const [T, B] = options.batchFirst ? [X.dims[1], X.dims[0]] : [X.dims[0], X.dims[1]];
      expect(node.inputs[4] ?? '').toBe(''); // none of these models feeds sequence_lens or initial_h
      expect(node.inputs[5] ?? '').toBe('');
      const { output, hN } = noGrad(() => gru.forward(variable(tensor(X.data, [...X.dims]))));
      const out = await output.data(); // [T, B, D·H], or [B, T, D·H] when batchFirst
      const h = await hN.data(); // [D, B, H]

      // ONNX's Y: [T, D, B, H], or [B, T, D, H] when batch-major; Y_h: [D, B, H] or [B, D, H].
      const Y = new Float32Array(T * D * B * H);
      const Yh = new Float32Array(D * B * H);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          for (let d = 0; d < D; d++) {
            const from = ((options.batchFirst ? b * T + t : t * B + b) * D + d) * H;
            const to = (options.batchFirst ? (b * T + t) * D + d : (t * D + d) * B + b) * H;
            Y.set(out.subarray(from, from + H), to);
          }
        }
      }
      for (let d = 0; d < D; d++) {
        for (let b = 0; b < B; b++)
          Yh.set(h.subarray((d * B + b) * H, (d * B + b + 1) * H), (options.batchFirst ? b * D + d : d * B + b) * H);
      }
      expect(model.outputs.length).toBeGreaterThan(0);
      model.outputs.forEach((outName, k) => {
        const expected = readTensorProto(readFileSync(path.join(data, `output_${k}.pb`)), `${folder}/output_${k}.pb`);
        // Graph outputs are node outputs by name: the node's first output (Y) may be '' (unused),
        // and test_gru_defaults names its Y_h output 'Y'.
        const slot = node.outputs.indexOf(outName);
        expect(slot === 0 || slot === 1, `${outName} is Y or Y_h`).toBe(true);
        const got = slot === 0 ? Y : Yh;
        expect(expected.dims).toEqual(
          slot === 0 ? (options.batchFirst ? [B, T, D, H] : [T, D, B, H]) : options.batchFirst ? [B, D, H] : [D, B, H],
        );
        expect(maxAbsDiff(got, expected.data)).toBeLessThan(2e-6);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (d) TensorFlow.js's GRU layer, an independent implementation

interface TfRun {
  y: Float32Array;
  dx: Float32Array;
  dKernel: Float32Array;
  dRecurrent: Float32Array;
  dBias: Float32Array;
}

describe('TensorFlow.js GRU layer (CPU) vs wgru on weights imported with fromKerasGRU', () => {
  const [B, T, I, H] = [3, 5, 4, 5];
  const rnd = random(2024);
  const kernel = Float32Array.from(rnd(I * 3 * H, 0.7));
  const recurrent = Float32Array.from(rnd(H * 3 * H, 0.7));
  const bias = Float32Array.from(rnd(3 * H, 0.5));
  const x = Float32Array.from(rnd(B * T * I, 1.5));
  const cot = Float32Array.from(rnd(B * T * H, 1));
  let tfRun: TfRun;

  beforeAll(async () => {
    tf.env().set('PROD', true); // no "install tfjs-node" banner; PROD only drops debug checks
    await tf.setBackend('cpu');
    // reset_after=False (tfjs rejects resetAfter: true), and tfjs's default recurrent activation
    // is hardSigmoid: Keras's is sigmoid, which is what the mapping assumes.
    // (tfjs's typings omit resetAfter, which its GRU cell reads: hence the cast.)
    type GruArgs = Parameters<typeof tf.layers.gru>[0];
    const layer = tf.layers.gru({
      units: H,
      returnSequences: true,
      resetAfter: false,
      recurrentActivation: 'sigmoid',
    } as GruArgs);
    const xVar = tf.variable(tf.tensor3d(x, [B, T, I]), true, 'x');
    layer.apply(xVar); // builds the weights
    layer.setWeights([tf.tensor2d(kernel, [I, 3 * H]), tf.tensor2d(recurrent, [H, 3 * H]), tf.tensor1d(bias)]);
    const y = layer.apply(xVar) as tf.Tensor;
    const weights = layer.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
    const cotT = tf.tensor3d(cot, [B, T, H]);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(xVar) as tf.Tensor, cotT)) as tf.Scalar,
      [xVar, ...weights],
    );
    const g = (v: tf.Variable) => (grads[v.name] as tf.Tensor).dataSync() as Float32Array;
    tfRun = {
      y: y.dataSync() as Float32Array,
      dx: g(xVar),
      dKernel: g(weights[0] as tf.Variable),
      dRecurrent: g(weights[1] as tf.Variable),
      dBias: g(weights[2] as tf.Variable),
    };
  });

  it('tfjs rejects reset_after=True (so only reset_after=False can be compared)', () => {
    expect(() => tf.layers.gru({ units: 2, resetAfter: true } as Parameters<typeof tf.layers.gru>[0])).toThrow(
      /reset_after/,
    );
  });

  forEachBackend('forward and gradients', (name) => {
    beforeAll(async () => {
      await setBackend(name);
    });

    it('agree within float32 tolerance', async () => {
      const gru = new GRU({ inputSize: I, hiddenSize: H, batchFirst: true });
      gru.loadStateDict(fromKerasGRU([kernel, recurrent, bias], { inputSize: I, hiddenSize: H }));
      const xv: Variable = variable(tensor(x, [B, T, I]), { requiresGrad: true });
      const { output } = gru.forward(xv);
      expect(maxAbsDiff(await output.data(), tfRun.y)).toBeLessThan(3e-6);
      output
        .mul(variable(tensor(cot, [B, T, H])))
        .sum()
        .backward();

      // wgru's gradients w.r.t. W, U, b map to Keras's layout through the exporter's own mapping:
      // the mapping is linear with no sums here (reset_after=False), and K_z = −W_z gives
      // ∂L/∂K_z = −∂L/∂W_z, exactly the exporter's negation of the z columns.
      const grads: Record<string, Float32Array> = {};
      for (const [k, p] of gru.namedParameters()) grads[k] = (await p.grad?.data()) as Float32Array;
      const [dK, dR, dB] = toKerasGRU(grads, { inputSize: I, hiddenSize: H, resetAfter: false });
      const rel = (a: Float32Array, b: Float32Array) => maxAbsDiff(a, b) / Math.max(1, ...Array.from(b, Math.abs));
      expect(rel((await xv.grad?.data()) as Float32Array, tfRun.dx)).toBeLessThan(1e-5);
      expect(rel(dK.data, tfRun.dKernel)).toBeLessThan(1e-5);
      expect(rel(dR.data, tfRun.dRecurrent)).toBeLessThan(1e-5);
      expect(rel((dB as ShapedArray<Float32Array>).data, tfRun.dBias)).toBeLessThan(1e-5);
    });
  });
});
