/**
 * `exportOnnx`: a model as an `.onnx` file that ONNX Runtime (or any ONNX runtime) runs.
 *
 * How it works, in three steps:
 * 1. **Trace.** The user's `forward` runs once on the example inputs under a tracer
 *    (@wgru/autograd's trace.ts). Every primitive op reports itself; composites (softmax,
 *    logSumExp, comparisons) and wgru's modules (through `traceModule`, ../module.ts) report
 *    themselves as ONE op each, with what they read and made.
 * 2. **Map.** Each reported op becomes ONNX nodes as it arrives: primitives by ./ops.ts, modules
 *    by ./modules.ts and ./recurrent.ts. Every value keeps a symbolic shape (./shapes.ts), so that
 *    Reshapes and Slices written down at the traced sizes still hold at other batch sizes and
 *    sequence lengths. Values read but not made by traced ops become initializers (./graph.ts).
 * 3. **Write.** The initializers' values are read from the device and the model is serialized
 *    (./write.ts). Only this step waits, so everything that can go wrong (an unknown option, an
 *    op with no ONNX mapping, a shape the graph cannot express) throws at the call, before
 *    anything is written.
 */
import { noGrad, type TracedOp, type Tracer, Variable, withTracer } from '@wgru/autograd';
import { shapeString, Tensor } from '@wgru/tensor';
import { describeValue } from '../checks.js';
import { Module } from '../module.js';
import { elemType, OnnxGraph, supportedDtype, type Value } from './graph.js';
import { moduleExport } from './modules.js';
import { opExports } from './ops.js';
import { type Dim, dimName, fixed } from './shapes.js';
import { after } from './values.js';
import { writeOnnxModel, type WriteValueInfo } from './write.js';

/** An example input: a Variable or a Tensor (int32 token ids), or an Int32Array (sequence lengths). */
export type OnnxExampleInput = Variable | Tensor | Int32Array;

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /** The graph inputs' names, one per example input (default 'input', or 'input_0', 'input_1', ...). */
  inputNames?: readonly string[];
  /** The graph outputs' names, one per output of forward (default 'output', or 'output_0', ...). */
  outputNames?: readonly string[];
  /**
   * Which axes of which inputs may change size, by input name: a list of axes (named
   * `<input>_<axis>`) or an object of axis → name (inputs' axes with the same name share a size).
   * Inputs not listed are static. Default: axes 0 and 1 ('time', 'batch') of every sequence input
   * (int32 of rank ≥ 2, or rank ≥ 3), axis 0 ('batch') of rank-2 float inputs and of lengths.
   */
  dynamicAxes?: Readonly<Record<string, readonly number[] | Readonly<Record<number, string>>>>;
  /** The ONNX opset, 13 to 21 (default 17). */
  opset?: number;
}

const OPTIONS = ['inputNames', 'outputNames', 'dynamicAxes', 'opset'];
export const DEFAULT_OPSET = 17;

function checkNames(what: string, names: unknown, count: number): string[] | undefined {
  if (names === undefined) return undefined;
  if (!Array.isArray(names) || names.length !== count || names.some((n) => typeof n !== 'string' || n === ''))
    throw new Error(`exportOnnx: ${what} must be ${count} non-empty strings, got ${describeValue(names)}`);
  if (new Set(names).size !== names.length)
    throw new Error(`exportOnnx: ${what} has a name twice: ${names.join(', ')}`);
  return names as string[];
}

/** The default dynamic axes of an example input (see ExportOnnxOptions.dynamicAxes). */
function defaultAxes(x: OnnxExampleInput): Record<number, string> {
  if (x instanceof Int32Array) return { 0: 'batch' };
  const seq = x.rank >= 3 || (x.rank === 2 && x.dtype === 'int32');
  if (seq) return { 0: 'time', 1: 'batch' };
  return x.rank === 2 ? { 0: 'batch' } : {};
}

/** The dynamic axes of input `name` of shape `shape`, checked. */
function axesOf(name: string, shape: readonly number[], spec: unknown): Record<number, string> {
  if (spec === undefined) return {};
  const entries: Array<[number, string]> = Array.isArray(spec)
    ? spec.map((a) => [a, `${name}_${a}`])
    : spec !== null && typeof spec === 'object'
      ? Object.entries(spec).map(([a, n]) => [Number(a), n])
      : [[Number.NaN, '']];
  for (const [a, n] of entries) {
    if (!Number.isInteger(a) || a < 0 || a >= shape.length)
      throw new Error(
        `exportOnnx: dynamicAxes['${name}'] names axis ${a}, but the input has shape ${shapeString(shape)}`,
      );
    if (typeof n !== 'string' || n === '')
      throw new Error(`exportOnnx: dynamicAxes['${name}'][${a}] must be a non-empty name`);
  }
  return Object.fromEntries(entries);
}

/**
 * Traces one call of `forward` on `exampleInputs` and writes it as an ONNX model: wgru's GRU, LSTM
 * and RNN become ONNX GRU, LSTM and RNN nodes, Linear becomes Gemm (or MatMul + Add), Embedding
 * Gather, Softmax and LogSoftmax theirs, Dropout in eval mode nothing, and the Variable ops
 * between them ONNX's elementwise ops, MatMul, reductions, Reshape, Transpose, Slice, Concat and
 * Gather. Weights become initializers. Call `model.eval()` first.
 *
 * Everything is checked at the call (bad options, an op with no ONNX mapping, a shape ONNX cannot
 * express): it throws before anything is written. The bytes come at once, as `torch.onnx.export`
 * writes them, where the weights can be read at once (the CPU and wasm backends); on WebGPU,
 * reading them waits for the device, and the bytes come as a Promise. `await` works for both.
 *
 * @example
 * ```ts
 * const embed = new Embedding(10, 4, { seed: 0 });
 * const gru = new GRU({ inputSize: 4, hiddenSize: 8, seed: 1 });
 * const head = new Linear(8, 10, { seed: 2 });
 * const forward = (ids: Tensor) => head.forward(gru.forward(embed.forward(ids)).output).logSoftmax(-1);
 * const ids = tensor([[1, 2], [3, 4], [5, 6]], undefined, 'int32');     // [T = 3, B = 2]
 * const bytes = await exportOnnx(forward, [ids], { inputNames: ['ids'], outputNames: ['logp'] });
 * // writeFileSync('model.onnx', bytes); in ONNX Runtime, feed 'ids' of any [T, B] and read 'logp'
 * ```
 */
export function exportOnnx(
  forward: (...inputs: never[]) => Variable | readonly Variable[],
  exampleInputs: readonly OnnxExampleInput[],
  opts: ExportOnnxOptions = {},
): Uint8Array | Promise<Uint8Array> {
  if (typeof forward !== 'function')
    throw new Error(`exportOnnx: forward must be a function, got ${describeValue(forward)}`);
  if (!Array.isArray(exampleInputs))
    throw new Error(
      `exportOnnx: exampleInputs must be an array of Variables, Tensors or Int32Arrays, got ${describeValue(exampleInputs)}`,
    );
  if (opts === null || typeof opts !== 'object')
    throw new Error(`exportOnnx: options must be an object, got ${describeValue(opts)}`);
  for (const k of Object.keys(opts))
    if (!OPTIONS.includes(k)) throw new Error(`exportOnnx: unknown option '${k}' (options: ${OPTIONS.join(', ')})`);
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < 13 || opset > 21)
    throw new Error(`exportOnnx: opset must be an integer from 13 to 21, got ${describeValue(opset)}`);
  const n = exampleInputs.length;
  const inputNames =
    checkNames('inputNames', opts.inputNames, n) ?? exampleInputs.map((_, k) => (n === 1 ? 'input' : `input_${k}`));
  const dynamic = opts.dynamicAxes;
  if (dynamic !== undefined && (dynamic === null || typeof dynamic !== 'object' || Array.isArray(dynamic)))
    throw new Error(`exportOnnx: dynamicAxes must be an object by input name, got ${describeValue(dynamic)}`);
  for (const k of Object.keys(dynamic ?? {}))
    if (!inputNames.includes(k))
      throw new Error(`exportOnnx: dynamicAxes names '${k}', which is not an input (inputs: ${inputNames.join(', ')})`);

  const g = new OnnxGraph(opset);
  const inputs: WriteValueInfo[] = [];
  exampleInputs.forEach((x, k) => {
    const name = inputNames[k] as string;
    if (!(x instanceof Variable || x instanceof Tensor || x instanceof Int32Array))
      throw new Error(
        `exportOnnx: exampleInputs[${k}] must be a Variable, a Tensor or an Int32Array, got ${describeValue(x)}`,
      );
    const shape = x instanceof Int32Array ? [x.length] : x.shape;
    const dtype = x instanceof Int32Array ? 'int32' : supportedDtype(x.dtype, `exampleInputs[${k}]`);
    const axes = dynamic === undefined ? defaultAxes(x) : axesOf(name, shape, dynamic[name]);
    const dims: Dim[] = shape.map((size, a) => {
      const sym = axes[a];
      if (sym === undefined) return fixed(size);
      const seen = g.syms.get(sym);
      if (seen !== undefined && seen !== size)
        throw new Error(
          `exportOnnx: dynamic axis '${sym}' has size ${seen} in one input and ${size} in '${name}' (axis ${a})${dynamic ? '' : '; the default dynamic axes do not fit these inputs: say which axes are dynamic with the dynamicAxes option'}`,
        );
      if (size < 2)
        throw new Error(
          `exportOnnx: input '${name}' axis ${a} is dynamic ('${sym}') but has size ${size} in the example; trace with a size of at least 2 there${dynamic ? '' : ', or name the dynamic axes with the dynamicAxes option'}`,
        );
      g.syms.set(sym, size);
      return [sym];
    });
    g.claim(name);
    const value: Value = { name, dtype, dims };
    if (x instanceof Int32Array) g.hostInput(x, value);
    else {
      const t = x instanceof Variable ? x.value : x;
      if (x instanceof Variable) g.set(x, value);
      g.input(t, value);
    }
    inputs.push({ name, elemType: elemType(dtype), shape: dims.map((d) => dimName(d, g.symbols)) });
  });

  let failure: unknown = null;
  const tracer: Tracer = {
    born: (v) => g.born.add(v),
    op: (o) => {
      if (failure !== null) return;
      try {
        mapOp(g, o);
      } catch (e) {
        failure = e; // reported when forward returns: the user's code runs on undisturbed
      }
    },
  };
  let result: unknown;
  try {
    result = withTracer(tracer, () => noGrad(() => (forward as (...xs: unknown[]) => unknown)(...exampleInputs)));
    if (failure !== null) throw failure;
  } catch (e) {
    g.release();
    throw e;
  }
  const outs = result instanceof Variable ? [result] : result;
  if (!Array.isArray(outs) || outs.length === 0 || !outs.every((v) => v instanceof Variable)) {
    g.release();
    throw new Error(
      `exportOnnx: forward must return a Variable or a non-empty array of Variables, got ${describeValue(result)}`,
    );
  }
  const outputNames = checkNames('outputNames', opts.outputNames, outs.length);
  const outputs: WriteValueInfo[] = [];
  try {
    outs.forEach((v: Variable, k) => {
      const name = outputNames?.[k] ?? (outs.length === 1 ? 'output' : `output_${k}`);
      g.claim(name);
      const value = g.of(v, `output ${k} of forward`);
      g.nodes.push({ opType: 'Identity', name: g.fresh(`${name}_identity`), inputs: [value.name], outputs: [name] });
      outputs.push({ name, elemType: elemType(value.dtype), shape: value.dims.map((d) => dimName(d, g.symbols)) });
    });
  } catch (e) {
    g.release();
    throw e;
  }
  // The outputs were made for this trace only.
  for (const v of outs as Variable[]) if (g.born.has(v)) v.dispose();
  return after(g.initializers(), (initializers) =>
    writeOnnxModel({ graphName: 'wgru', producerName: 'wgru', opset, nodes: g.nodes, initializers, inputs, outputs }),
  );
}

/** Maps one traced op into the graph, or throws naming what has no ONNX mapping. */
function mapOp(g: OnnxGraph, o: TracedOp): void {
  if (o.op === 'module') {
    const m = o.attrs as Module;
    const map = m instanceof Module ? moduleExport(m) : undefined;
    if (!map) throw new Error(`exportOnnx: the module ${m?.constructor?.name ?? String(m)} has no ONNX mapping`);
    map(g, o);
    return;
  }
  const map = opExports[o.op];
  if (!map)
    throw new Error(
      `exportOnnx: the op '${o.op}' has no ONNX mapping (ops with one: ${Object.keys(opExports).join(', ')})`,
    );
  map(g, o);
}
