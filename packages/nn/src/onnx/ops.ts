/**
 * The traced ops of @wgru/autograd (its primitives, and the composites it traces as one op) as
 * ONNX operators. One entry per op: it reads its operands' values from the graph, appends nodes,
 * and records its output's value with its symbolic shape. An op with no entry cannot be exported
 * (see `unmapped` in ./export.ts).
 */
import type { TracedOp, Variable } from '@wgru/autograd';
import { type OnnxGraph, supportedDtype, type Value } from './graph.js';
import { broadcastDims, type Dim, fixed, isFixed, reshapeDims, reshapeTarget, sizeOf } from './shapes.js';
import { ONNX_BOOL, ONNX_FLOAT, ONNX_INT32 } from './write.js';

/** Maps one traced op into the graph. */
export type OpExport = (g: OnnxGraph, o: TracedOp) => void;

/** "To the end" in a Slice's ends (ONNX clamps ends to the axis; 2³¹ − 1 keeps it readable as int32 by ./read.ts). */
const TO_END = 2 ** 31 - 1;

const outputOf = (o: TracedOp): Variable => o.outputs[0] as Variable;
const operand = (g: OnnxGraph, o: TracedOp, k: number): Value =>
  g.of(o.inputs[k] as Variable, `${o.op}'s operand ${k}`);

/** Casts `v` to `dtype` when it is not already of it. */
function cast(g: OnnxGraph, v: Value, dtype: Value['dtype']): Value {
  if (v.dtype === dtype) return v;
  return g.value('Cast', [v.name], dtype, v.dims, { to: dtype === 'float32' ? ONNX_FLOAT : ONNX_INT32 });
}

/** The output's dtype, as the exporter supports it. */
const outDtype = (o: TracedOp): Value['dtype'] => supportedDtype(outputOf(o).dtype, `the output of ${o.op}`);

/** An elementwise op over broadcast operands of the output's dtype. */
function elementwise(onnx: string): OpExport {
  return (g, o) => {
    const dtype = outDtype(o);
    const xs = o.inputs.map((_, k) => cast(g, operand(g, o, k), dtype));
    const dims = xs.map((x) => x.dims).reduce((a, b) => broadcastDims(a, b, g.symbols));
    g.set(
      outputOf(o),
      g.value(
        onnx,
        xs.map((x) => x.name),
        dtype,
        dims,
      ),
    );
  };
}

/** A comparison: ONNX gives booleans, wgru a float32 0/1 mask. */
function comparison(onnx: string, negate = false): OpExport {
  return (g, o) => {
    const [a, b] = [operand(g, o, 0), operand(g, o, 1)];
    const dtype = a.dtype === 'float32' || b.dtype === 'float32' ? 'float32' : 'int32';
    const [x, y] = [cast(g, a, dtype), cast(g, b, dtype)];
    const dims = broadcastDims(x.dims, y.dims, g.symbols);
    let [flag] = g.node(onnx, [x.name, y.name], [onnx.toLowerCase()]);
    if (negate) [flag] = g.node('Not', [flag as string], ['not']);
    g.set(outputOf(o), g.value('Cast', [flag as string], 'float32', dims, { to: ONNX_FLOAT }));
  };
}

/** A reduction over `axes` (ReduceSum's axes are an input from opset 13, ReduceMax's from 18). */
function reduce(g: OnnxGraph, onnx: string, x: Value, axes: readonly number[], keepDims: boolean): Value {
  const dims = keepDims
    ? x.dims.map((d, i) => (axes.includes(i) ? fixed(1) : d))
    : x.dims.filter((_, i) => !axes.includes(i));
  const keepdims = keepDims ? 1 : 0;
  if (axes.length === 0) return g.value('Identity', [x.name], x.dtype, dims);
  if (onnx === 'ReduceSum' || g.opset >= 18)
    return g.value(onnx, [x.name, g.int64('axes', axes)], x.dtype, dims, { keepdims });
  return g.value(onnx, [x.name], x.dtype, dims, { axes: [...axes], keepdims });
}

/** A Reshape to the output's trace-time shape, its dynamic axes worked out by ./shapes.ts. */
export function reshapeTo(g: OnnxGraph, x: Value, to: readonly number[], where: string): Value {
  const dims = reshapeDims(x.dims, to, g.symbols, where);
  const target = reshapeTarget(x.dims, dims, g.symbols, where);
  return g.value('Reshape', [x.name, g.int64('shape', target)], x.dtype, dims);
}

/** Slice starts and ends per axis; on a dynamic axis only a prefix, a suffix or the whole can be expressed. */
function sliceBounds(x: Value, begin: readonly number[], size: readonly number[], g: OnnxGraph, where: string) {
  const starts: number[] = [];
  const ends: number[] = [];
  const dims: Dim[] = [];
  x.dims.forEach((d, i) => {
    const n = sizeOf(d, g.symbols);
    const [b, s] = [begin[i], size[i]];
    if (isFixed(d)) {
      starts.push(b);
      ends.push(b + s);
      dims.push(fixed(s));
    } else if (b === 0 && s === n) {
      starts.push(0);
      ends.push(TO_END);
      dims.push(d);
    } else if (b === 0) {
      starts.push(0);
      ends.push(s);
      dims.push(fixed(s));
    } else if (b + s === n) {
      starts.push(b - n); // from the end: the last s steps at any length
      ends.push(TO_END);
      dims.push(fixed(s));
    } else {
      throw new Error(
        `${where}: slicing [${b}, ${b + s}) out of dynamic axis ${i} (size ${n} in the trace) keeps neither its start nor its end; make the axis static with the dynamicAxes option`,
      );
    }
  });
  return { starts, ends, dims };
}

/** The ops by name: @wgru/autograd's primitives, then the composites it traces as one op. */
export const opExports: Record<string, OpExport> = {
  add: elementwise('Add'),
  sub: elementwise('Sub'),
  mul: elementwise('Mul'),
  div: elementwise('Div'),
  pow: elementwise('Pow'),
  maximum: elementwise('Max'),
  minimum: elementwise('Min'),
  neg: elementwise('Neg'),
  exp: elementwise('Exp'),
  log: elementwise('Log'),
  sqrt: elementwise('Sqrt'),
  sigmoid: elementwise('Sigmoid'),
  tanh: elementwise('Tanh'),
  relu: elementwise('Relu'),
  abs: elementwise('Abs'),
  where: (g, o) => {
    const dtype = outDtype(o);
    const c = operand(g, o, 0);
    const [a, b] = [cast(g, operand(g, o, 1), dtype), cast(g, operand(g, o, 2), dtype)];
    // wgru's mask is nonzero for true; ONNX's Where wants booleans.
    const [flag] = g.node('Cast', [c.name], ['mask'], { to: ONNX_BOOL });
    const dims = [c.dims, a.dims, b.dims].reduce((p, q) => broadcastDims(p, q, g.symbols));
    g.set(outputOf(o), g.value('Where', [flag as string, a.name, b.name], dtype, dims));
  },
  matmul: (g, o) => {
    const [a, b] = [operand(g, o, 0), operand(g, o, 1)];
    const batch = broadcastDims(a.dims.slice(0, -2), b.dims.slice(0, -2), g.symbols);
    const dims = [...batch, a.dims[a.dims.length - 2] as Dim, b.dims[b.dims.length - 1] as Dim];
    g.set(outputOf(o), g.value('MatMul', [a.name, b.name], outDtype(o), dims));
  },
  sum: (g, o) => {
    const { axes, keepDims } = o.attrs as { axes: number[]; keepDims: boolean };
    g.set(outputOf(o), reduce(g, 'ReduceSum', operand(g, o, 0), axes, keepDims));
  },
  max: (g, o) => {
    const { axes, keepDims } = o.attrs as { axes: number[]; keepDims: boolean };
    g.set(outputOf(o), reduce(g, 'ReduceMax', operand(g, o, 0), axes, keepDims));
  },
  mean: (g, o) => {
    const { axes, keepDims } = o.attrs as { axes: number[]; keepDims: boolean };
    g.set(outputOf(o), reduce(g, 'ReduceMean', operand(g, o, 0), axes, keepDims));
  },
  reshape: (g, o) => {
    g.set(outputOf(o), reshapeTo(g, operand(g, o, 0), outputOf(o).shape, 'exportOnnx: reshape'));
  },
  permute: (g, o) => {
    const x = operand(g, o, 0);
    const { perm } = o.attrs as { perm: number[] };
    g.set(
      outputOf(o),
      g.value(
        'Transpose',
        [x.name],
        x.dtype,
        perm.map((p) => x.dims[p] as Dim),
        { perm: [...perm] },
      ),
    );
  },
  slice: (g, o) => {
    const x = operand(g, o, 0);
    const { begin, size } = o.attrs as { begin: number[]; size: number[] };
    const { starts, ends, dims } = sliceBounds(x, begin, size, g, 'exportOnnx: slice');
    const axes = x.dims.map((_, i) => i);
    const inputs = [x.name, g.int64('starts', starts), g.int64('ends', ends), g.int64('axes', axes)];
    g.set(outputOf(o), g.value('Slice', inputs, x.dtype, dims));
  },
  concat: (g, o) => {
    const xs = o.inputs.map((_, k) => operand(g, o, k));
    const { axis } = o.attrs as { axis: number };
    const first = xs[0] as Value;
    const along = xs.map((x) => x.dims[axis] as Dim);
    let dim: Dim;
    if (along.every(isFixed)) dim = fixed(along.reduce((n, d) => n + sizeOf(d, g.symbols), 0));
    else {
      // A sum of dynamic sizes has no name of its own: it becomes a new dynamic size.
      const name = g.fresh(`concat${axis}`);
      g.syms.set(name, outputOf(o).shape[axis]);
      dim = [name];
    }
    const dims = first.dims.map((d, i) => (i === axis ? dim : d));
    const names = xs.map((x) => x.name);
    g.set(outputOf(o), g.value('Concat', names, first.dtype, dims, { axis }));
  },
  gather: (g, o) => {
    const x = operand(g, o, 0);
    const idx = g.of(o.inputs[1] as Variable, 'the indices of gather');
    const { axis } = o.attrs as { axis: number };
    const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
    g.set(outputOf(o), g.value('Gather', [x.name, idx.name], x.dtype, dims, { axis }));
  },
  softmax: (g, o) => {
    const x = operand(g, o, 0);
    g.set(outputOf(o), g.value('Softmax', [x.name], x.dtype, x.dims, { axis: (o.attrs as { axis: number }).axis }));
  },
  logSoftmax: (g, o) => {
    const x = operand(g, o, 0);
    g.set(outputOf(o), g.value('LogSoftmax', [x.name], x.dtype, x.dims, { axis: (o.attrs as { axis: number }).axis }));
  },
  logSumExp: (g, o) => {
    const x = operand(g, o, 0);
    const { axis, keepDims } = o.attrs as { axis: number; keepDims: boolean };
    // m + log Σ exp(x − m), m the maximum, as wgru computes it (no overflow for large x).
    const m = reduce(g, 'ReduceMax', x, [axis], true);
    const shifted = g.value('Sub', [x.name, m.name], x.dtype, x.dims);
    const e = g.value('Exp', [shifted.name], x.dtype, x.dims);
    const s = reduce(g, 'ReduceSum', e, [axis], true);
    const l = g.value('Log', [s.name], x.dtype, s.dims);
    const y = g.value('Add', [l.name, m.name], x.dtype, s.dims);
    g.set(
      outputOf(o),
      keepDims || x.dims.length === 0 ? y : reshapeTo(g, y, outputOf(o).shape, 'exportOnnx: logSumExp'),
    );
  },
  equal: comparison('Equal'),
  notEqual: comparison('Equal', true),
  less: comparison('Less'),
  greater: comparison('Greater'),
  lessEqual: comparison('LessOrEqual'),
  greaterEqual: comparison('GreaterOrEqual'),
};
