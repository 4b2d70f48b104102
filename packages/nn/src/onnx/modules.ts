/**
 * wgru's modules as ONNX operators. A module whose `forward` runs inside `traceModule` (see
 * ../module.ts) reaches the exporter as ONE traced op `module` with the module as its attributes;
 * this file turns it into its ONNX operator: Linear into Gemm (or MatMul + Add), Embedding into
 * Gather, Softmax and LogSoftmax into theirs, Dropout in eval mode into nothing, and the recurrent
 * layers into GRU, LSTM and RNN nodes (./recurrent.ts).
 */
import type { TracedOp, Variable } from '@wgru/autograd';
import { Tensor } from '@wgru/tensor';
import { Dropout, LogSoftmax, Softmax } from '../layers/activation.js';
import { Embedding } from '../layers/embedding.js';
import { Linear } from '../layers/linear.js';
import type { Module } from '../module.js';
import { RecurrentLayer } from '../rnn/layer.js';
import type { OnnxGraph, Value } from './graph.js';
import { exportRecurrent } from './recurrent.js';
import { type Dim, fixed } from './shapes.js';

/** A parameter as an initializer named `base` (its values are read when the file is written). */
const parameter = (g: OnnxGraph, p: Variable, base: string): Value => g.of(p, base, base);

function linear(g: OnnxGraph, m: Linear, o: TracedOp): void {
  const x = g.of(o.inputs[0] as Variable, 'the input of Linear');
  const name = g.fresh('linear');
  const W = parameter(g, m.W, `${name}.W`);
  const b = m.b ? parameter(g, m.b, `${name}.b`) : null;
  const dims: Dim[] = [...x.dims.slice(0, -1), fixed(m.outFeatures)];
  let y: Value;
  if (x.dims.length === 2 && b) y = g.value('Gemm', [x.name, W.name, b.name], 'float32', dims);
  else {
    y = g.value('MatMul', [x.name, W.name], 'float32', dims);
    if (b) y = g.value('Add', [y.name, b.name], 'float32', dims);
  }
  g.set(o.outputs[0] as Variable, y);
}

function embedding(g: OnnxGraph, m: Embedding, o: TracedOp): void {
  const raw = o.inputs[0];
  // Indices given as a Tensor (an example input, or a constant) or as host int32 values.
  if (!(raw instanceof Tensor) && !(raw instanceof Int32Array))
    throw new Error('exportOnnx: Embedding.forward was given nested arrays; pass its indices as an int32 Tensor');
  const idx = raw instanceof Tensor ? g.of(raw, 'the indices of Embedding') : g.host(raw, 'indices');
  const table = parameter(g, m.weight, `${g.fresh('embedding')}.weight`);
  const dims = [...idx.dims, fixed(m.dim)];
  g.set(o.outputs[0] as Variable, g.value('Gather', [table.name, idx.name], 'float32', dims, { axis: 0 }));
}

function softmax(g: OnnxGraph, m: Softmax | LogSoftmax, o: TracedOp): void {
  const x = g.of(o.inputs[0] as Variable, `the input of ${m.constructor.name}`);
  const axis = m.axis < 0 ? m.axis + x.dims.length : m.axis;
  const op = m instanceof Softmax ? 'Softmax' : 'LogSoftmax';
  g.set(o.outputs[0] as Variable, g.value(op, [x.name], x.dtype, x.dims, { axis }));
}

function dropout(g: OnnxGraph, m: Dropout, o: TracedOp): void {
  if (m.training && m.p > 0)
    throw new Error(
      `exportOnnx: Dropout(${m.p}) is in training mode, where it draws random masks; call model.eval() before exporting`,
    );
  g.set(o.outputs[0] as Variable, g.of(o.inputs[0] as Variable, 'the input of Dropout'));
}

/** How to export a module that traced itself, by its class; undefined for a class exportOnnx does not know. */
export function moduleExport(m: Module): ((g: OnnxGraph, o: TracedOp) => void) | undefined {
  if (m instanceof Linear) return (g, o) => linear(g, m, o);
  if (m instanceof Embedding) return (g, o) => embedding(g, m, o);
  if (m instanceof Softmax || m instanceof LogSoftmax) return (g, o) => softmax(g, m, o);
  if (m instanceof Dropout) return (g, o) => dropout(g, m, o);
  if (m instanceof RecurrentLayer) return (g, o) => exportRecurrent(g, m, o);
  return undefined;
}
