/**
 * What the GRU importers and exporters share: the value types they accept, the checks on keys,
 * sizes and options, and how a wgru cell's weights are read and written. The conversions
 * themselves are written against the block algebra of ./blocks.ts.
 */
import { GRU, GRUCell } from '../rnn/gru.js';
import type { Tensor } from '@wgru/tensor';
import type { Take, TakeOptional } from './blocks.js';

export {
  type Blocks,
  convertWeights,
  flatten,
  gates3,
  type Take,
  type TakeOptional,
} from './blocks.js';

/** A host array of weights, row-major. */
export type HostArray = Float32Array | Float64Array;

/** A host array with its shape (row-major), as exporters return it and importers accept it. */
export interface ShapedArray<A extends HostArray = HostArray> {
  shape: readonly number[];
  data: A;
}

/**
 * One weight as the importers and exporters accept it: a Tensor, a flat row-major host array
 * (its length must match the expected shape), or a host array with its shape (which must match).
 */
export type WeightValue = Tensor | HostArray | ShapedArray;

/** A state dict of weights, by name. */
export type WeightDict = Record<string, WeightValue>;

/** @internal Checks a positive integer size option. */
export function checkSize(fn: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) <= 0)
    throw new Error(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

/** @internal Rejects unknown option names (a misspelt option must not be silently ignored). */
export function checkOptions(fn: string, opts: object, allowed: readonly string[]): void {
  if (opts === null || typeof opts !== 'object') throw new Error(`${fn}: options must be an object`);
  for (const k of Object.keys(opts))
    if (!allowed.includes(k)) throw new Error(`${fn}: unknown option '${k}' (allowed: ${allowed.join(', ')})`);
}

/**
 * How the weights of a wgru GRU are laid out, for exporters given a state dict rather than the
 * module itself. `resetAfter` cannot be read off the weights (a bias-free GRU has no `c` either
 * way), so it must be stated.
 */
export interface GruLayout {
  inputSize: number;
  hiddenSize: number;
  /** Default 1. */
  numLayers?: number;
  /** Default false. */
  bidirectional?: boolean;
  /** Where the GRU applies its reset gate (see GRUCellOptions.resetAfter). */
  resetAfter: boolean;
  /** Whether c is [3H], one recurrent bias per gate (see GRUCellOptions.recurrentBias). Default false. */
  recurrentBias?: boolean;
}

/** @internal The wgru key prefix of layer k, direction d: `l{k}.` or `l{k}_reverse.`. */
export const cellPrefix = (k: number, d: number): string => (d === 0 ? `l${k}.` : `l${k}_reverse.`);

/**
 * @internal One direction of one layer of a wgru GRU: W [I, 3H], U [H, 3H], b [3H] (gates
 * z | r | h), and with resetAfter c [H] (c_h), or [3H] (c_z | c_r | c_h) with recurrentBias.
 */
export interface SeedCell<M> {
  W: M;
  U: M;
  b?: M;
  c?: M;
}

/**
 * @internal Reads one wgru cell under `prefix`. Biases are optional (a GRU made with bias: false
 * has none); with resetAfter a present `b` requires `c`.
 */
export function takeSeedCell<M>(
  take: Take<M>,
  takeOptional: TakeOptional<M>,
  prefix: string,
  I: number,
  H: number,
  resetAfter: boolean,
  recurrentBias = false,
): SeedCell<M> {
  const W = take(`${prefix}W`, [I, 3 * H], 'input weights, gates z | r | h');
  const U = take(`${prefix}U`, [H, 3 * H], 'recurrent weights, gates z | r | h');
  const b = takeOptional(`${prefix}b`, [3 * H], 'bias, gates z | r | h');
  if (!b) return { W, U };
  if (!resetAfter) return { W, U, b };
  if (recurrentBias)
    return { W, U, b, c: take(`${prefix}c`, [3 * H], 'recurrent bias, gates z | r | h (recurrentBias)') };
  return { W, U, b, c: take(`${prefix}c`, [H], 'hidden bias inside the reset product (resetAfter)') };
}

/** @internal Stores one wgru cell under `prefix`. */
export function putSeedCell<M>(out: Record<string, M>, prefix: string, cell: SeedCell<M>): void {
  out[`${prefix}W`] = cell.W;
  out[`${prefix}U`] = cell.U;
  if (cell.b) out[`${prefix}b`] = cell.b;
  if (cell.c) out[`${prefix}c`] = cell.c;
}

/** @internal A GRU, a GRUCell, or a wgru state dict with its layout, as exporters see it. */
export interface ExportSource {
  dict: WeightDict;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  resetAfter: boolean;
  recurrentBias: boolean;
  /** Whether the keys are a GRUCell's (W, U, b, c) rather than a GRU's (l0.W, ...). */
  cell: boolean;
}

/**
 * @internal What an exporter is given: a GRU, a GRUCell (their parameter Tensors; sizes and
 * resetAfter from the module), or a wgru state dict with a layout (GRU keys `l{k}.W`, ..., or with
 * `cellKeys` a GRUCell's `W`, `U`, `b`, `c`).
 */
export function exportSource(
  fn: string,
  source: GRU | GRUCell | WeightDict,
  layout: GruLayout | undefined,
  cellKeys: boolean,
  accepts: 'GRU' | 'GRUCell' | 'both',
): ExportSource {
  if (source instanceof GRU && accepts === 'GRUCell')
    throw new Error(`${fn}: expects a GRUCell; for one cell of a GRU pass gru.cell(layer, direction)`);
  if (source instanceof GRUCell && accepts === 'GRU')
    throw new Error(`${fn}: expects a GRU; for a GRUCell call ${fn}Cell(cell)`);
  if (source instanceof GRU) {
    return {
      dict: source.stateDict(),
      inputSize: source.inputSize,
      hiddenSize: source.hiddenSize,
      numLayers: source.numLayers,
      bidirectional: source.bidirectional,
      resetAfter: source.resetAfter,
      recurrentBias: source.recurrentBias,
      cell: false,
    };
  }
  if (source instanceof GRUCell) {
    return {
      dict: source.stateDict(),
      inputSize: source.inputSize,
      hiddenSize: source.hiddenSize,
      numLayers: 1,
      bidirectional: false,
      resetAfter: source.resetAfter,
      recurrentBias: source.recurrentBias,
      cell: true,
    };
  }
  if (layout === undefined || layout === null || typeof layout !== 'object') {
    throw new Error(
      `${fn}: given a state dict rather than a ${cellKeys ? 'GRUCell' : 'GRU'}, the layout { inputSize, hiddenSize, ${cellKeys ? '' : 'numLayers?, bidirectional?, '}resetAfter } is required`,
    );
  }
  checkOptions(
    fn,
    layout,
    cellKeys
      ? ['inputSize', 'hiddenSize', 'resetAfter', 'recurrentBias']
      : ['inputSize', 'hiddenSize', 'numLayers', 'bidirectional', 'resetAfter', 'recurrentBias'],
  );
  if (typeof layout.resetAfter !== 'boolean')
    throw new Error(`${fn}: layout.resetAfter must be true or false (it cannot be read off the weights)`);
  const recurrentBias = checkRecurrentBiasOption(fn, layout.recurrentBias, layout.resetAfter);
  return {
    dict: source,
    inputSize: checkSize(fn, 'inputSize', layout.inputSize),
    hiddenSize: checkSize(fn, 'hiddenSize', layout.hiddenSize),
    numLayers: checkSize(fn, 'numLayers', layout.numLayers ?? 1),
    bidirectional: layout.bidirectional ?? false,
    resetAfter: layout.resetAfter,
    recurrentBias,
    cell: cellKeys,
  };
}

/** @internal Checks a recurrentBias option (default false): a boolean, and only with resetAfter. */
export function checkRecurrentBiasOption(fn: string, recurrentBias: unknown, resetAfter: boolean | undefined): boolean {
  if (recurrentBias === undefined) return false;
  if (typeof recurrentBias !== 'boolean')
    throw new Error(`${fn}: recurrentBias must be true or false, got ${String(recurrentBias)}`);
  if (recurrentBias && resetAfter === false)
    throw new Error(
      `${fn}: recurrentBias: true needs resetAfter: true (a recurrent bias per gate is the reset-after form)`,
    );
  return recurrentBias;
}
