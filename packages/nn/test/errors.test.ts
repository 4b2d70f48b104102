/**
 * Every public entry point rejects bad input at the call, with an Error whose message names the
 * op (or argument) and the offending shapes or values: a table of bad calls across @wgru/tensor,
 * @wgru/autograd and @wgru/nn, run on each backend, each with the message it must give. Then a
 * fast-check fuzz of `loadStateDict` and of `loadSafetensors` with random, mostly wrong, input:
 * always a readable Error or a clean load, never a crash, a hang or a silent NaN.
 */
import { concat as concatV, type Variable, variable } from '@wgru/autograd';
import {
  Adam,
  AdamW,
  CrossEntropyLoss,
  Dropout,
  Embedding,
  encodeSafetensors,
  GRU,
  GRUCell,
  Linear,
  loadSafetensors,
  MSELoss,
  Module,
  type RawTensor,
  SGD,
  saveSafetensors,
} from '@wgru/nn';
import {
  add,
  concat,
  full,
  gather,
  matmul,
  memory,
  randn,
  reshape,
  setBackend,
  slice,
  softmax,
  sum,
  type Tensor,
  tensor,
  tidy,
  transpose,
  zeros,
} from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BackendName, FC_SEED, forEachBackend } from '../../../test-support/backends.js';

/** A bad call, and what its Error message must say. */
interface Case {
  name: string;
  call: () => unknown;
  message: RegExp;
  /** Only on these backends (float64 is refused on WebGPU and wasm only, say). */
  only?: readonly BackendName[];
}

const v = (values: number[] | number[][] | number[][][], requiresGrad = false): Variable =>
  variable(values, { requiresGrad });
const seq = (T: number, B: number, I: number): Variable =>
  variable(new Float32Array(T * B * I).fill(0.1), { shape: [T, B, I] });
const ints = (values: number[]): Tensor => tensor(values, undefined, 'int32');

/** A two-parameter module for the state-dict cases. */
class Tiny extends Module {
  readonly fc = new Linear(3, 2, { seed: 1 });
  forward(x: Variable): Variable {
    return this.fc.forward(x);
  }
}

function cases(): Case[] {
  return [
    // ---- @wgru/tensor: creation ----
    {
      name: 'tensor: ragged nested arrays',
      call: () => tensor([[1, 2], [3]]),
      message: /^tensor: ragged nested array at \[1\]: expected 2 entries like the first row, got 1/,
    },
    {
      name: 'tensor: values that do not fill the shape',
      call: () => tensor([1, 2, 3], [2, 2]),
      message: /^tensor: 3 values do not fill shape \[2, ?2\] \(4 elements\)/,
    },
    { name: 'tensor: a negative dimension', call: () => tensor([1], [-1]), message: /^tensor: shape .*-1/ },
    { name: 'zeros: a fractional dimension', call: () => zeros([2.5, 2]), message: /^zeros: shape .*2\.5/ },
    {
      name: 'tensor: an unknown dtype',
      call: () => tensor([1], undefined, 'float16' as 'float32'),
      message: /^tensor: dtype .*float16/,
    },
    {
      name: 'tensor: int32 from fractions',
      call: () => tensor([1, 2.5], undefined, 'int32'),
      message: /^tensor: int32 needs integers .*got 2\.5 at position 1/,
    },
    {
      name: 'tensor: int32 from NaN',
      call: () => tensor([0, Number.NaN], undefined, 'int32'),
      message: /^tensor: int32 needs integers .*got NaN at position 1/,
    },
    {
      name: 'tensor: a string',
      call: () => tensor('1, 2' as unknown as number[]),
      message: /^tensor: values must be a number, nested arrays or a typed array, got string/,
    },
    {
      name: 'tensor: float64 on WebGPU',
      call: () => tensor(Float64Array.of(1, 2)),
      message: /^tensor: float64 is supported on the CPU backend only/,
      only: ['webgpu', 'wasm'],
    },
    {
      name: 'zeros: float64 on WebGPU',
      call: () => zeros([2], 'float64'),
      message: /^zeros: dtype float64 is not supported on the (webgpu|wasm) backend/,
      only: ['webgpu', 'wasm'],
    },
    {
      name: 'full: a value that is not a number',
      call: () => full([2], '1' as unknown as number),
      message: /^full: value must be a number, got string/,
    },
    {
      name: 'randn: a seed that is not an integer',
      call: () => randn([2], { seed: 0.5 }),
      message: /^randn: seed .*0\.5/,
    },

    {
      name: 'setBackend: an unknown backend',
      call: () => setBackend('tpu' as 'cpu'),
      message: /^setBackend: name must be 'webgpu', 'wasm' or 'cpu', got "tpu"/,
    },
    // ---- @wgru/tensor: ops ----
    {
      name: 'add: shapes that do not broadcast',
      call: () => add(zeros([2, 3]), zeros([4])),
      message: /^add: .*\[2, ?3\].*\[4\]/,
    },
    {
      name: 'matmul: inner dimensions differ',
      call: () => matmul(zeros([2, 3]), zeros([4, 5])),
      message: /^matmul: .*\[2, ?3\].*\[4, ?5\]/,
    },
    {
      name: 'sum: an axis past the rank',
      call: () => sum(zeros([2, 3]), 2),
      message: /^sum: axis 2 .*rank 2|^sum: axis 2 is out of range/,
    },
    {
      name: 'softmax: a negative axis past the rank',
      call: () => softmax(zeros([2, 3]), -3),
      message: /^softmax: axis -3/,
    },
    {
      name: 'reshape: a different number of elements',
      call: () => reshape(zeros([2, 3]), [4]),
      message: /^reshape: .*\[2, ?3\].*\[4\]/,
    },
    {
      name: 'reshape: two inferred dimensions',
      call: () => reshape(zeros([2, 3]), [-1, -1]),
      message: /^reshape: .*-1/,
    },
    {
      name: 'slice: a block past the end',
      call: () => slice(zeros([2, 3]), [1, 2], [1, 2]),
      message: /^slice: .*\[2, ?3\]/,
    },
    {
      name: 'slice: begin of the wrong length',
      call: () => slice(zeros([2, 3]), [0, 0, 0], [1, 1, 1]),
      message: /^slice: .*\[2, ?3\]/,
    },
    {
      name: 'gather: an index out of range',
      call: () => gather(zeros([4, 2]), ints([0, 4]), 0),
      message: /^gather: index 4 at position 1 is out of range for axis 0 of x \[4, ?2\] of size 4/,
    },
    {
      name: 'gather: float indices',
      call: () => gather(zeros([4, 2]), tensor([0, 1]), 0),
      message: /^gather: indices must be int32, got float32/,
    },
    {
      name: 'concat: shapes that differ off the axis',
      call: () => concat([zeros([2, 3]), zeros([2, 4])], 0),
      message: /^concat: .*\[2, ?3\].*\[2, ?4\]|^concat: .*\[2, ?4\].*\[2, ?3\]/,
    },
    { name: 'concat: an empty list', call: () => concat([], 0), message: /^concat: / },
    {
      name: 'transpose: a permutation that repeats an axis',
      call: () => transpose(zeros([2, 3]), [0, 0]),
      message: /^(transpose|permute): .*\[0, ?0\]/,
    },
    {
      name: 'add: an operand already disposed',
      call: () => {
        const t = zeros([2]);
        t.dispose();
        return add(t, 1);
      },
      message: /^add: an operand \[2\] was already disposed/,
    },

    // ---- @wgru/autograd ----
    {
      name: 'backward: a non-scalar output without a gradient',
      call: () => v([1, 2], true).mul(2).backward(),
      message: /^backward: gradient must be given for a non-scalar output of shape \[2\]/,
    },
    {
      name: 'backward: a gradient of the wrong shape',
      call: () =>
        v([1, 2], true)
          .mul(2)
          .backward(zeros([3])),
      message: /^backward: gradient must be a Tensor of shape \[2\], got \[3\]/,
    },
    {
      name: 'backward: nothing requires grad',
      call: () => v([1, 2]).sum().backward(),
      message: /^backward: this Variable does not require grad/,
    },
    {
      name: 'backward: a second time through a freed graph',
      call: () => {
        const y = v([1, 2], true).mul(3).sum();
        y.backward();
        y.backward();
      },
      message: /^backward: the graph through .* was already freed by an earlier backward\(\).*retainGraph/,
    },
    {
      name: 'variable: int32 that requires grad',
      call: () => variable([1, 2], { dtype: 'int32', requiresGrad: true }),
      message: /^variable: an int32 Variable \[2\] cannot require grad/,
    },
    {
      name: 'variable: an unknown option',
      call: () => variable([1, 2], { requiresGrad: true, requireGrad: true } as never),
      message: /^variable: unknown option 'requireGrad'/,
    },
    {
      name: 'Variable.matmul: a Tensor instead of a Variable',
      call: () => v([[1, 2]]).matmul(zeros([2, 1]) as unknown as Variable),
      message: /^matmul: b must be a Variable, got Tensor/,
    },
    {
      name: 'Variable.matmul: inner dimensions differ',
      call: () => v([[1, 2]]).matmul(v([[1, 2]])),
      message: /^matmul: .*\[1, ?2\].*\[1, ?2\]/,
    },
    { name: 'Variable.sum: a bad axis', call: () => v([[1, 2]]).sum(5), message: /^sum: axis 5/ },
    {
      name: 'Variable.item: more than one element',
      call: () => v([1, 2]).item(),
      message: /^item: needs a Variable with one element, got shape \[2\]/,
    },
    {
      name: 'concat (autograd): an empty list',
      call: () => concatV([], 0),
      message: /^concat: needs a non-empty list of Variables/,
    },

    // ---- @wgru/nn: layers ----
    {
      name: 'Linear: a fractional inFeatures',
      call: () => new Linear(2.5, 3),
      message: /^Linear: inFeatures must be a positive integer, got 2\.5/,
    },
    {
      name: 'Linear.forward: the wrong input width',
      call: () => new Linear(3, 2).forward(v([[1, 2]])),
      message: /^Linear\.forward: x has shape \[1, ?2\], expected last axis 3/,
    },
    {
      name: 'Embedding.forward: an index out of range',
      call: () => new Embedding(4, 2).forward(ints([1, 4])),
      message: /^Embedding\.forward: index 4 at position 1 is out of range for 4 embeddings/,
    },
    {
      name: 'Embedding.forward: a negative index from host data',
      call: () => new Embedding(4, 2).forward([0, -1]),
      message: /^Embedding\.forward: index -1 at position 1 is out of range for 4 embeddings/,
    },
    {
      name: 'Embedding.forward: float indices',
      call: () => new Embedding(4, 2).forward(tensor([0, 1])),
      message: /^Embedding\.forward: indices must be int32, got float32 \[2\]/,
    },
    { name: 'Dropout: p = 1.5', call: () => new Dropout(1.5), message: /^Dropout: p must be in \[0, 1\], got 1.5/ },
    {
      name: 'MSELoss: shapes differ',
      call: () => new MSELoss().forward(v([1, 2]), v([1, 2, 3])),
      message: /^MSELoss: input \[2\] and target \[3\] must have the same shape/,
    },

    // ---- @wgru/nn: recurrent layers ----
    {
      name: 'GRU: an unknown option',
      call: () => new GRU({ inputSize: 2, hiddenSize: 3, hiddenSise: 4 } as never),
      message: /^GRU: unknown option 'hiddenSise'/,
    },
    {
      name: 'GRU: hiddenSize 0',
      call: () => new GRU({ inputSize: 2, hiddenSize: 0 }),
      message: /^GRU: hiddenSize must be a positive integer, got 0/,
    },
    {
      name: 'GRU: dropout -0.1',
      call: () => new GRU({ inputSize: 2, hiddenSize: 3, dropout: -0.1 }),
      message: /^GRU: dropout must be in \[0, 1\], got -0.1/,
    },
    {
      name: 'GRU.forward: the wrong input size',
      call: () => new GRU({ inputSize: 2, hiddenSize: 3 }).forward(seq(4, 2, 5)),
      message: /^GRU\.forward: x has 5 features per step, expected inputSize 2 \(x: \[4, ?2, ?5\]\)/,
    },
    {
      name: 'GRU.forward: the wrong rank',
      call: () => new GRU({ inputSize: 2, hiddenSize: 3 }).forward(v([[1, 2]])),
      message: /^GRU\.forward: x must be \[T, B, I\], got \[1, ?2\]/,
    },
    {
      name: 'GRU.forward: a Tensor instead of a Variable',
      call: () => new GRU({ inputSize: 2, hiddenSize: 3 }).forward(zeros([4, 2, 2]) as unknown as Variable),
      message:
        /^GRU\.forward: x must be a Variable \[T, B, I\], got a Tensor \[4, ?2, ?2\] float32 \(wrap a Tensor with variable\(t\)\)/,
    },
    {
      name: 'GRU.forward: h0 as a Tensor',
      call: () =>
        new GRU({ inputSize: 2, hiddenSize: 3 }).forward(seq(4, 2, 2), zeros([1, 2, 3]) as unknown as Variable),
      message: /^GRU\.forward: the initial state must be a Variable \[numLayers·D, B, H\], got a Tensor \[1, ?2, ?3\]/,
    },
    {
      name: 'Linear.forward: a Tensor instead of a Variable',
      call: () => new Linear(3, 2).forward(zeros([1, 3]) as unknown as Variable),
      message: /^Linear\.forward: x must be a Variable \[\.\.\., 3\], got a Tensor \[1, ?3\] float32/,
    },
    {
      name: 'Embedding.forward: a string',
      call: () => new Embedding(4, 2).forward('0 1' as never),
      message:
        /^Embedding\.forward: indices must be an int32 Tensor, an Int32Array or nested arrays of integers, got string/,
    },
    {
      name: 'Embedding.forward: fractional host indices',
      call: () => new Embedding(4, 2).forward([0, 1.5]),
      message: /^Embedding\.forward: indices: tensor: int32 needs integers .*got 1\.5 at position 1/,
    },
    {
      name: 'Dropout.forward: a number',
      call: () => new Dropout(0.5).forward(3 as never),
      message: /^Dropout\.forward: x must be a Variable, got number 3/,
    },
    {
      name: 'GRU.forward: h0 of the wrong shape',
      call: () =>
        new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2 }).forward(
          seq(4, 2, 2),
          variable(new Float32Array(6), { shape: [1, 2, 3] }),
        ),
      message: /^GRU\.forward: initial state must be \[2, ?2, ?3\] \(numLayers·D, B, H\), got \[1, ?2, ?3\]/,
    },
    {
      name: 'GRU.forward: a length past T',
      call: () =>
        new GRU({ inputSize: 2, hiddenSize: 3 }).forward(seq(4, 2, 2), undefined, { lengths: Int32Array.of(4, 5) }),
      message: /^GRU\.forward: lengths\[1\] = 5 is outside \[0, 4\]/,
    },
    {
      name: 'GRU.forward: lengths as a plain array',
      call: () =>
        new GRU({ inputSize: 2, hiddenSize: 3 }).forward(seq(4, 2, 2), undefined, {
          lengths: [4, 4] as unknown as Int32Array,
        }),
      message: /^GRU\.forward: lengths must be an Int32Array of 2 sequence lengths/,
    },
    {
      name: 'GRU.forward: an unknown option',
      call: () =>
        new GRU({ inputSize: 2, hiddenSize: 3 }).forward(seq(4, 2, 2), undefined, {
          length: Int32Array.of(1, 1),
        } as never),
      message: /^GRU\.forward: unknown option 'length'/,
    },
    {
      name: 'GRUCell.forward: h of the wrong shape',
      call: () => new GRUCell({ inputSize: 2, hiddenSize: 3 }).forward(v([[1, 2]]), v([[1, 2]])),
      message: /^GRUCell\.forward: h must be \[1, ?3\] for x \[1, ?2\], got \[1, ?2\]/,
    },

    // ---- @wgru/nn: losses ----
    {
      name: 'CrossEntropyLoss: a target out of range',
      call: () => new CrossEntropyLoss().forward(v([[1, 2, 3]]), ints([3])),
      message: /^CrossEntropyLoss: target 3 at position 0 is out of range for 3 classes/,
    },
    {
      name: 'CrossEntropyLoss: a negative target from host data',
      call: () => new CrossEntropyLoss().forward(v([[1, 2, 3]]), Int32Array.of(-1)),
      message: /^CrossEntropyLoss: target -1 at position 0 is out of range for 3 classes/,
    },
    {
      name: 'CrossEntropyLoss: float32 targets',
      call: () => new CrossEntropyLoss().forward(v([[1, 2, 3]]), tensor([1])),
      message: /^CrossEntropyLoss: targets must be int32 class indices, got float32 \[1\]/,
    },
    {
      name: 'CrossEntropyLoss: float targets holding NaN',
      call: () =>
        new CrossEntropyLoss().forward(
          v([
            [1, 2, 3],
            [1, 2, 3],
          ]),
          [1, Number.NaN],
        ),
      message: /^CrossEntropyLoss: targets\[1\] is NaN/,
    },
    {
      name: 'CrossEntropyLoss: a float32 Tensor of targets holding NaN',
      call: () => new CrossEntropyLoss().forward(v([[1, 2, 3]]), tensor([Number.NaN])),
      message: /^CrossEntropyLoss: targets must be int32 class indices, got float32/,
    },
    {
      name: 'CrossEntropyLoss: targets of the wrong length',
      call: () =>
        new CrossEntropyLoss().forward(
          v([
            [1, 2, 3],
            [1, 2, 3],
          ]),
          ints([1]),
        ),
      message: /^CrossEntropyLoss: targets \[1\] must be \[2\] for logits \[2, ?3\]/,
    },
    {
      name: 'CrossEntropyLoss: logits of rank 3',
      call: () => new CrossEntropyLoss().forward(v([[[1, 2, 3]]]), ints([1])),
      message: /^CrossEntropyLoss: logits must be \[N, C\], got \[1, ?1, ?3\]/,
    },
    {
      name: 'CrossEntropyLoss: fractional host targets',
      call: () => new CrossEntropyLoss().forward(v([[1, 2, 3]]), [0.5]),
      message: /^CrossEntropyLoss: targets\[0\] is 0\.5; targets must be integer class indices/,
    },
    {
      name: 'CrossEntropyLoss: a Tensor as logits',
      call: () => new CrossEntropyLoss().forward(zeros([1, 3]) as unknown as Variable, ints([1])),
      message: /^CrossEntropyLoss: logits must be a Variable \[N, C\], got a Tensor \[1, ?3\]/,
    },
    {
      name: 'CrossEntropyLoss: an unknown option',
      call: () => new CrossEntropyLoss({ reduce: 'mean' } as never),
      message: /^CrossEntropyLoss: unknown option 'reduce'/,
    },
    {
      name: 'CrossEntropyLoss: labelSmoothing above 1',
      call: () => new CrossEntropyLoss({ labelSmoothing: 1.5 }),
      message: /^CrossEntropyLoss: labelSmoothing must be in \[0, 1\], got 1\.5/,
    },

    // ---- @wgru/nn: optimizers ----
    {
      name: 'Adam: an unknown option',
      call: () => new Adam(new Linear(2, 2).parameters(), { learningRate: 0.1 } as never),
      message: /^Adam: unknown option 'learningRate'/,
    },
    {
      name: 'Adam: a negative learning rate',
      call: () => new Adam(new Linear(2, 2).parameters(), { lr: -0.1 }),
      message: /^Adam: lr must be a finite number in \[0, ∞\), got -0\.1/,
    },
    {
      name: 'AdamW: beta1 of 1',
      call: () => new AdamW(new Linear(2, 2).parameters(), { betas: [1, 0.999] }),
      message: /^AdamW: betas\[0\] must be a finite number in \[0, 1\), got 1/,
    },
    {
      name: 'SGD: a NaN learning rate',
      call: () => new SGD(new Linear(2, 2).parameters(), { lr: Number.NaN }),
      message: /^SGD: lr must be a finite number in \[0, ∞\), got NaN/,
    },
    {
      name: 'Adam: an empty parameter list',
      call: () => new Adam([], { lr: 0.1 }),
      message: /^Adam: got an empty parameter list/,
    },
    {
      name: 'Adam: a learning rate set to Infinity later',
      call: () => {
        const opt = new Adam(new Linear(2, 2).parameters(), { lr: 0.1 });
        opt.lr = Number.POSITIVE_INFINITY;
      },
      message: /^Adam: lr must be a finite number in \[0, ∞\), got Infinity/,
    },
    {
      name: 'SGD: a Variable made by an op, not a leaf',
      call: () => new SGD([v([1, 2], true).mul(2)], { lr: 0.1 }),
      message: /^SGD: params\[0\] was made by an op \(mul\), not created: only leaf Variables can be optimized/,
    },
    {
      name: 'SGD: a Variable made by an op, after the backward that freed its graph',
      call: () => {
        const h = v([1, 2], true).mul(2);
        h.sum().backward();
        return new SGD([h], { lr: 0.1 });
      },
      message: /^SGD: params\[0\] was made by an op \(mul\), not created: only leaf Variables can be optimized/,
    },

    // ---- @wgru/nn: state dicts ----
    {
      name: 'loadStateDict: a missing key',
      call: () => new Tiny().loadStateDict({ 'fc.W': new Float32Array(6) }),
      message: /^loadStateDict: missing keys: 'fc\.b' \[2\] \(the module's keys: 'fc\.W', 'fc\.b'\)/,
    },
    {
      name: 'loadStateDict: an unexpected key',
      call: () =>
        new Tiny().loadStateDict({
          'fc.W': new Float32Array(6),
          'fc.b': new Float32Array(2),
          'fc.bias': new Float32Array(2),
        }),
      message: /^loadStateDict: unexpected keys: 'fc\.bias'/,
    },
    {
      name: 'loadStateDict: a wrongly shaped Tensor',
      call: () => new Tiny().loadStateDict({ 'fc.W': zeros([2, 3]), 'fc.b': zeros([2]) }),
      message: /^loadStateDict: 'fc\.W' has shape \[2, ?3\] but the parameter has shape \[3, ?2\]/,
    },
    {
      name: 'loadStateDict: a Float32Array of the wrong size',
      call: () => new Tiny().loadStateDict({ 'fc.W': new Float32Array(5), 'fc.b': new Float32Array(2) }),
      message: /^loadStateDict: 'fc\.W' has 5 values but the parameter has shape \[3, ?2\] \(6 values\)/,
    },
    {
      name: 'loadStateDict: a non-finite value',
      call: () =>
        new Tiny().loadStateDict({ 'fc.W': new Float32Array(6), 'fc.b': Float32Array.of(0, Number.POSITIVE_INFINITY) }),
      message: /^loadStateDict: 'fc\.b' holds a non-finite value \(Infinity\) at position 1/,
    },
    {
      name: 'loadStateDict: a plain array',
      call: () =>
        new Tiny().loadStateDict({
          'fc.W': [1, 2, 3, 4, 5, 6] as unknown as Float32Array,
          'fc.b': new Float32Array(2),
        }),
      message: /^loadStateDict: 'fc\.W' must be a Tensor or a Float32Array, got/,
    },
    {
      name: 'loadStateDict: a Tensor holding NaN',
      call: () =>
        new Tiny().loadStateDict({
          'fc.W': tensor([
            [0, 1],
            [2, 3],
            [4, Number.NaN],
          ]),
          'fc.b': zeros([2]),
        }),
      message: /^loadStateDict: 'fc\.W' holds a non-finite value \(NaN\) at position 5/,
      only: ['cpu'],
    },
    {
      name: 'loadStateDict: a weights file holding Infinity',
      call: () =>
        new Tiny().loadStateDict(
          loadSafetensors(
            encodeSafetensors({
              'fc.W': { dtype: 'float32', shape: [3, 2], data: new Float32Array(6) },
              'fc.b': { dtype: 'float32', shape: [2], data: Float32Array.of(Number.NEGATIVE_INFINITY, 0) },
            }),
          ),
        ),
      message: /^loadStateDict: 'fc\.b' holds a non-finite value \(-Infinity\) at position 0/,
    },
    {
      name: 'loadStateDict: an int32 Tensor',
      call: () => new Tiny().loadStateDict({ 'fc.W': zeros([3, 2], 'int32'), 'fc.b': zeros([2]) }),
      message: /^loadStateDict: 'fc\.W' is an int32 Tensor \[3, ?2\]/,
    },
    {
      name: 'loadStateDict: a disposed Tensor',
      call: () => {
        const w = zeros([3, 2]);
        w.dispose();
        new Tiny().loadStateDict({ 'fc.W': w, 'fc.b': zeros([2]) });
      },
      message: /^loadStateDict: 'fc\.W' is a Tensor \[3, ?2\] that was already disposed/,
    },
    {
      name: 'loadStateDict: an array instead of a dict',
      call: () => new Tiny().loadStateDict([zeros([3, 2])] as never),
      message:
        /^loadStateDict: dict must be an object of Tensors or Float32Arrays by parameter name, got an Array of 1/,
    },
    {
      name: 'loadStateDict: an unknown option',
      call: () => new Tiny().loadStateDict({}, { strickt: false } as never),
      message: /^loadStateDict: unknown option 'strickt'/,
    },
    {
      name: 'loadStateDict: strict that is not a boolean',
      call: () => new Tiny().loadStateDict({}, { strict: 'no' } as never),
      message: /^loadStateDict: strict must be true or false, got the string "no"/,
    },
    {
      name: 'loadSafetensors: bytes that are not a safetensors file',
      call: () => loadSafetensors(new TextEncoder().encode('this is not a weight file at all')),
      message: /^safetensors: /,
    },
    {
      name: 'loadSafetensors: a truncated file',
      call: () => loadSafetensors(Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 0, 123)),
      message: /^safetensors: .*(header|truncated|bytes)/,
    },
    {
      name: 'loadSafetensors: not bytes at all',
      call: () => loadSafetensors('model.safetensors' as unknown as Uint8Array),
      message: /^(loadSafetensors|safetensors): .*Uint8Array/,
    },
  ];
}

forEachBackend('errors', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  const table = cases().filter((c) => c.only === undefined || c.only.includes(name));

  it('has at least 40 cases', () => {
    expect(cases().length).toBeGreaterThanOrEqual(40);
  });

  it.each(table.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    let thrown: unknown;
    let pending: unknown;
    // Inside a tidy, so that the tensors a case makes (modules, inputs) are freed, not left to the GC.
    tidy(() => {
      try {
        pending = c.call();
      } catch (e) {
        thrown = e;
      }
    });
    if (pending instanceof Promise) {
      // The asynchronous entry points (item(), setBackend) must reject.
      try {
        await pending;
      } catch (e) {
        thrown = e;
      }
    }
    if (process.env.SHOW_ERRORS) console.log(`${c.name}\n    ${(thrown as Error)?.message}`);
    expect(thrown, `${c.name}: expected an Error`).toBeInstanceOf(Error);
    expect((thrown as Error).message).toMatch(c.message);
  });
});

// ---- fuzz: loadStateDict and the weights-file loader ----

type Values = number[];
/** How one entry of a fuzzed state dict is made. */
type Entry =
  | { kind: 'array'; values: Values }
  | { kind: 'tensor'; shape: number[]; dtype: 'float32' | 'int32' | 'float64'; values: Values; viaFile: boolean }
  | { kind: 'disposed' }
  | { kind: 'other'; value: unknown };

const PARAMS: Record<string, number[]> = { 'fc.W': [3, 2], 'fc.b': [2] };
const sizeOfShape = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

const numberArb = fc.oneof(
  { weight: 12, arbitrary: fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e39, -0) },
);
const valuesArb = fc.array(numberArb, { minLength: 1, maxLength: 6 });
/** The right shape for `key` most of the time, a random small one otherwise. */
const shapeArb = (key: string) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(PARAMS[key] ?? [2]) },
    { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }) },
  );
const entryArb = (key: string): fc.Arbitrary<Entry> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('array' as const),
        // Usually exactly the parameter's size.
        values: fc.oneof(
          {
            weight: 3,
            arbitrary: fc.array(numberArb, {
              minLength: sizeOfShape(PARAMS[key] ?? [2]),
              maxLength: sizeOfShape(PARAMS[key] ?? [2]),
            }),
          },
          { weight: 1, arbitrary: valuesArb },
        ),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('tensor' as const),
        shape: shapeArb(key),
        dtype: fc.constantFrom('float32' as const, 'float32' as const, 'int32' as const, 'float64' as const),
        values: valuesArb,
        viaFile: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'disposed' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('other' as const),
        value: fc.constantFrom<unknown>(
          null,
          undefined,
          3,
          'w',
          [1, 2, 3, 4, 5, 6],
          {},
          new Float64Array(6),
          new Int32Array(2),
          Number.NaN,
        ),
      }),
    },
  );
const dictArb = fc.record({
  // Each parameter: left out, or given some value (usually of the right size).
  present: fc
    .record({ 'fc.W': fc.boolean(), 'fc.b': fc.boolean() })
    .map((p) => (p['fc.W'] || p['fc.b'] ? p : { 'fc.W': true, 'fc.b': true })),
  entries: fc.record({ 'fc.W': entryArb('fc.W'), 'fc.b': entryArb('fc.b') }),
  // Keys that are not parameters, some of them awkward.
  extra: fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom('fc.w', 'W', 'fc.b.x', 'fc', '', '__proto__', 'constructor', 'toString'),
            fc.string({ maxLength: 5 }),
          ),
          entryArb('x'),
        ),
        { minLength: 1, maxLength: 2 },
      ),
    },
  ),
  strict: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<unknown>(undefined, false) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(true, 'yes') },
  ),
});

/** Row-major values filling `n` elements from a short list (cycled). */
const fill = (values: Values, n: number) => Array.from({ length: n }, (_, i) => values[i % values.length]);

describe('fuzz', () => {
  forEachBackend('loadStateDict with random dicts', (name) => {
    beforeAll(async () => {
      await setBackend(name);
    });

    it('always a readable Error (and nothing written) or a clean load (and exactly the values given)', async () => {
      const model = new Tiny();
      const params = new Map(model.namedParameters());
      const baseline = memory().liveTensors;
      await fc.assert(
        fc.asyncProperty(dictArb, async ({ present, entries, extra, strict }) => {
          // Build the dict; `made` are the tensors this test owns (disposed at the end).
          const made: Tensor[] = [];
          /** What a successful load must leave in each parameter, and whether NaN is allowed there. */
          const want = new Map<string, { values: number[] | null; unchecked: boolean }>();
          const build = (key: string, e: Entry): unknown => {
            if (e.kind === 'array') return Float32Array.from(e.values);
            if (e.kind === 'other') return e.value;
            if (e.kind === 'disposed') {
              const t = zeros(PARAMS[key] ?? [1]);
              t.dispose();
              return t;
            }
            const dtype = e.dtype === 'float64' && name !== 'cpu' ? 'float32' : e.dtype;
            const n = sizeOfShape(e.shape);
            const values =
              dtype === 'int32'
                ? fill(e.values, n).map((x) => (Number.isFinite(x) ? Math.trunc(x) : 0))
                : fill(e.values, n);
            let t: Tensor;
            if (e.viaFile) {
              // Through a weights file: its decoded values stay known on the host.
              const data =
                dtype === 'int32'
                  ? Int32Array.from(values)
                  : dtype === 'float64'
                    ? Float64Array.from(values)
                    : Float32Array.from(values);
              const raw: RawTensor = { dtype, shape: e.shape, data };
              t = loadSafetensors(encodeSafetensors({ t: raw })).t as Tensor;
            } else {
              t = tensor(
                dtype === 'int32'
                  ? Int32Array.from(values)
                  : dtype === 'float64'
                    ? Float64Array.from(values)
                    : Float32Array.from(values),
                e.shape,
                dtype,
              );
            }
            made.push(t);
            return t;
          };
          const dict: Record<string, unknown> = {};
          for (const key of Object.keys(PARAMS)) {
            if (!present[key as keyof typeof present]) continue;
            const e = entries[key as keyof typeof entries];
            dict[key] = build(key, e);
            // Off the CPU a tensor made from host data by the user is not read back by loadStateDict
            // (that would need an asynchronous read): its values load as they are.
            const unchecked = e.kind === 'tensor' && !e.viaFile && name !== 'cpu';
            const given =
              e.kind === 'array' ? e.values : e.kind === 'tensor' ? fill(e.values, sizeOfShape(e.shape)) : null;
            want.set(key, { values: given, unchecked });
          }
          for (const [key, e] of extra)
            Object.defineProperty(dict, key, {
              value: build('x', e),
              enumerable: true,
              configurable: true,
              writable: true,
            });

          const before = new Map<string, Float32Array>();
          for (const [k, p] of params) before.set(k, (await p.data()) as Float32Array);
          let error: unknown = null;
          try {
            model.loadStateDict(
              dict as Record<string, Tensor>,
              strict === undefined ? undefined : ({ strict } as { strict: boolean }),
            );
          } catch (e) {
            error = e;
          }
          const after = new Map<string, Float32Array>();
          for (const [k, p] of params) after.set(k, (await p.data()) as Float32Array);
          for (const t of made) t.dispose();

          if (process.env.SHOW_ERRORS) console.log(error === null ? 'loaded' : (error as Error).message);
          if (error !== null) {
            expect(error).toBeInstanceOf(Error);
            expect((error as Error).message).toMatch(/^loadStateDict: \S/);
            // Checked before anything is written: a refused dict leaves every parameter as it was.
            for (const [k, b] of before) expect(Array.from(after.get(k) as Float32Array)).toEqual(Array.from(b));
          } else {
            if (strict !== false) expect(Object.keys(dict).sort()).toEqual(Object.keys(PARAMS).sort());
            for (const [k, a] of after) {
              const w = want.get(k);
              if (w === undefined) {
                expect(Array.from(a)).toEqual(Array.from(before.get(k) as Float32Array)); // not in the dict: untouched
                continue;
              }
              expect(w.values, `${k}: loaded from a value that is not numbers`).not.toBeNull();
              expect(Array.from(a)).toEqual(Array.from(Float32Array.from(w.values as number[])));
              // Never a silent NaN: a non-finite value was refused unless it was unchecked.
              if (!w.unchecked) for (const x of a) expect(Number.isFinite(x)).toBe(true);
            }
            // Restore finite values for the next run.
            model.loadStateDict({ 'fc.W': new Float32Array(6).fill(0.5), 'fc.b': new Float32Array(2) });
          }
          expect(memory().liveTensors).toBe(baseline);
        }),
        { seed: FC_SEED, numRuns: 150 },
      );
      model.dispose();
    });
  });

  forEachBackend('loadSafetensors + loadStateDict with corrupted weight files', (name) => {
    beforeAll(async () => {
      await setBackend(name);
    });

    it('a corrupted file of a real model loads cleanly (finite values) or throws a readable Error', async () => {
      const source = new GRU({ inputSize: 2, hiddenSize: 3, seed: 1 });
      const bytes = await saveSafetensors(source.stateDict());
      source.dispose();
      const target = new GRU({ inputSize: 2, hiddenSize: 3, seed: 2 });
      const baseline = memory().liveTensors;
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        // NaN (0x7fc00000) or Infinity written over a float in the data section.
        fc.record({ kind: fc.constant('nan' as const), at: fc.nat(), inf: fc.boolean() }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
          let b = bytes.slice();
          for (const m of mutations) {
            if (m.kind === 'flip') b[m.at % b.length] = m.byte;
            else if (m.kind === 'truncate') b = b.slice(0, m.at % b.length);
            else if (b.length >= 4) {
              const at = b.length - 4 - 4 * (m.at % Math.max(1, Math.floor((b.length - 4) / 4 / 2)));
              new DataView(b.buffer).setUint32(at, m.inf ? 0x7f800000 : 0x7fc00000, true);
            }
          }
          let loaded: Record<string, Tensor> | null = null;
          try {
            loaded = loadSafetensors(b);
            target.loadStateDict(loaded);
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            expect((e as Error).message).toMatch(/^(safetensors|loadStateDict): \S/);
          } finally {
            for (const t of Object.values(loaded ?? {})) t.dispose();
          }
          for (const p of target.parameters())
            for (const x of (await p.data()) as Float32Array) expect(Number.isFinite(x)).toBe(true);
          expect(memory().liveTensors).toBe(baseline);
        }),
        { seed: FC_SEED, numRuns: 100 },
      );
      target.dispose();
    });
  });
});
