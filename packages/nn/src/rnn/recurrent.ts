import {
  concat,
  freeAtNextBackward,
  isGradEnabled,
  keepPastBackward,
  noGrad,
  releaseShared,
  sharedConstant,
  stack,
  transientConstant,
  type Variable,
  variable,
} from '@wgru/autograd';
import { assign, empty, permute, reshape, shapeString, slice, tensorOn, type Tensor } from '@wgru/tensor';
import { expectVariable } from '../checks.js';
import { Dropout } from '../layers/activation.js';
import type { Module } from '../module.js';

/**
 * One direction of one layer of a recurrent network, as the shared driver sees it. The state is a
 * list of Variables [B, H] (just h for a GRU or an RNN; h and c for an LSTM); state[0] is the output.
 */
export interface RecurrentCell extends Module {
  readonly hiddenSize: number;
  readonly inputSize: number;
  /** Number of state tensors (1, or 2 for an LSTM). */
  readonly stateCount: number;
  /** The input's contribution for every timestep at once: [T, B, I] -> [T, B, G], one matmul. */
  project(x: Variable): Variable;
  /** One step from that timestep's projected input [B, G] and the previous state. */
  step(xProjected: Variable, state: Variable[]): Variable[];
}

export interface RecurrentOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers?: number;
  bias?: boolean;
  batchFirst?: boolean;
  dropout?: number;
  bidirectional?: boolean;
}

const BASE_OPTIONS = [
  'inputSize',
  'hiddenSize',
  'numLayers',
  'bias',
  'batchFirst',
  'dropout',
  'bidirectional',
  'seed',
  'backend',
  'dtype',
];

export function checkRecurrentOptions(
  op: string,
  opts: RecurrentOptions,
  extra: string[] = [],
): Required<RecurrentOptions> {
  if (opts === null || typeof opts !== 'object')
    throw new Error(`${op}: options must be an object like { inputSize, hiddenSize }`);
  for (const k of Object.keys(opts))
    if (!BASE_OPTIONS.includes(k) && !extra.includes(k)) throw new Error(`${op}: unknown option '${k}'`);
  const positive = (k: 'inputSize' | 'hiddenSize' | 'numLayers', v: unknown) => {
    if (!Number.isInteger(v) || (v as number) <= 0)
      throw new Error(`${op}: ${k} must be a positive integer, got ${String(v)}`);
  };
  positive('inputSize', opts.inputSize);
  positive('hiddenSize', opts.hiddenSize);
  positive('numLayers', opts.numLayers ?? 1);
  const dropout = opts.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout <= 1))
    throw new Error(`${op}: dropout must be in [0, 1], got ${dropout}`);
  return {
    inputSize: opts.inputSize,
    hiddenSize: opts.hiddenSize,
    numLayers: opts.numLayers ?? 1,
    bias: opts.bias ?? true,
    batchFirst: opts.batchFirst ?? false,
    dropout,
    bidirectional: opts.bidirectional ?? false,
  };
}

export interface RecurrentResult {
  /** [T, B, D·H] (or [B, T, D·H] with batchFirst). */
  output: Variable;
  /** Final states, each [numLayers·D, B, H], layer-major (index k·D + d) like PyTorch. */
  states: Variable[];
}

/**
 * Checks one step's input of a cell, x [B, inputSize], and its states, each [B, hiddenSize]
 * (an absent optional state is skipped; an absent required one is an error). Returns B.
 */
export function checkCellStep(
  op: string,
  x: Variable,
  inputSize: number,
  hiddenSize: number,
  states: ReadonlyArray<{ name: string; value: Variable | undefined; required: boolean }>,
): number {
  if (x.rank !== 2 || x.shape[1] !== inputSize)
    throw new Error(`${op}: x must be [B, ${inputSize}], got ${shapeString(x.shape)}`);
  const B = x.shape[0];
  for (const { name, value, required } of states) {
    if (value === undefined && !required) continue;
    if (value === undefined || value.rank !== 2 || value.shape[0] !== B || value.shape[1] !== hiddenSize) {
      throw new Error(
        `${op}: ${name} must be [${B}, ${hiddenSize}] for x ${shapeString(x.shape)}, got ${value === undefined ? 'nothing' : shapeString(value.shape)}`,
      );
    }
  }
  return B;
}

/** @internal Zeros [B, H] on the backend and dtype of `like`. */
export function zeroTensor(like: Variable, B: number, H: number): Tensor {
  const z = empty(like.value.backend, [B, H], like.dtype);
  assign(z, 0);
  return z;
}

/**
 * A zero initial state [B, H] on the backend and dtype of `like` (a leaf the caller owns).
 *
 * @example
 * ```ts
 * const cell = new GRUCell({ inputSize: 3, hiddenSize: 4, seed: 0 });
 * const x = variable(randn([2, 3], { seed: 1 }));
 * let h = zeroState(x, 2, 4);                  // [B = 2, H = 4]
 * for (let t = 0; t < 3; t++) h = cell.forward(x, h);
 * ```
 */
export function zeroState(like: Variable, B: number, H: number): Variable {
  return variable(zeroTensor(like, B, H));
}

/** @internal `x[begin...]` of extent `size`, reshaped to `shape`, as a new tensor handle (raw ops, no graph). */
function block(x: Tensor, begin: number[], size: number[], shape: number[]): Tensor {
  const s = slice(x, begin, size);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

/**
 * Per-timestep masks for sequences of different lengths: mask[t] is [B, 1], 1 where t < length.
 */
function lengthMasks(lengths: Int32Array, T: number, B: number, like: Variable): Tensor {
  const m = new Float64Array(T * B);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) m[t * B + b] = t < lengths[b] ? 1 : 0;
  return tensorOn(like.value.backend, like.dtype === 'float64' ? m : Float32Array.from(m), [T, B, 1], like.dtype);
}

/**
 * Runs a stack of recurrent cells over a sequence: every layer, both directions, optional initial
 * states and per-sequence lengths. With lengths, a sequence's state stops at its last step, its
 * padded outputs are zero, and the reverse direction starts at each sequence's own end, as
 * PyTorch's packed sequences do.
 */
export function runRecurrent(
  op: string,
  cells: RecurrentCell[][],
  x: Variable,
  init: Variable[] | undefined,
  o: { batchFirst: boolean; dropout: number; training: boolean; lengths?: Int32Array | undefined },
): RecurrentResult {
  const first = cells[0]?.[0] as RecurrentCell;
  const H = first.hiddenSize;
  const D = (cells[0] as RecurrentCell[]).length;
  const L = cells.length;
  expectVariable(`${op}.forward`, 'x', x, o.batchFirst ? '[B, T, I]' : '[T, B, I]');
  for (const s of init ?? []) expectVariable(`${op}.forward`, 'the initial state', s, '[numLayers·D, B, H]');
  if (x.rank !== 3)
    throw new Error(
      `${op}.forward: x must be [T, B, I]${o.batchFirst ? ' ([B, T, I] with batchFirst)' : ''}, got ${shapeString(x.shape)}`,
    );
  const [T, B, I] = (o.batchFirst ? [x.shape[1], x.shape[0], x.shape[2]] : x.shape) as [number, number, number];
  if (I !== first.inputSize)
    throw new Error(
      `${op}.forward: x has ${I} features per step, expected inputSize ${first.inputSize} (x: ${shapeString(x.shape)})`,
    );
  for (const s of init ?? []) {
    if (s.rank !== 3 || s.shape[0] !== L * D || s.shape[1] !== B || s.shape[2] !== H) {
      throw new Error(
        `${op}.forward: initial state must be [${L * D}, ${B}, ${H}] (numLayers·D, B, H), got ${shapeString(s.shape)}`,
      );
    }
  }
  const lengths = o.lengths;
  if (lengths !== undefined) {
    if (!(lengths instanceof Int32Array) || lengths.length !== B)
      throw new Error(`${op}.forward: lengths must be an Int32Array of ${B} sequence lengths`);
    lengths.forEach((n, b) => {
      if (n < 0 || n > T) throw new Error(`${op}.forward: lengths[${b}] = ${n} is outside [0, ${T}]`);
    });
  }
  // Values made here that no gradient flows into (zero states, length masks, slices of an initial
  // state or an input that needs no gradient) are shared constants: the graph frees them with the
  // ops that read them, and the `finally` below lets go of this function's own hold, so nothing
  // made here is left for the garbage collector.
  const made: Variable[] = [];
  const shared = (t: Tensor): Variable => {
    const v = sharedConstant(t);
    made.push(v);
    return v;
  };
  const recorded = (v: Variable): boolean => isGradEnabled() && v.requiresGrad;
  let masks: Tensor | null = null;
  try {
    const seq = !o.batchFirst ? x : recorded(x) ? x.transpose([1, 0, 2]) : shared(permute(x.value, [1, 0, 2]));
    const allMasks = lengths ? lengthMasks(lengths, T, B, x) : null;
    masks = allMasks;
    const maskAt = (t: number): Variable | null =>
      allMasks ? shared(block(allMasks, [t, 0, 0], [1, B, 1], [B, 1])) : null;
    const zeros = (): Variable => shared(zeroTensor(x, B, H));
    const initAt = (s: Variable, k: number, d: number): Variable =>
      recorded(s)
        ? s.slice([k * D + d, 0, 0], [1, B, H]).reshape([B, H])
        : shared(block(s.value, [k * D + d, 0, 0], [1, B, H], [B, H]));
    const dropout = new Dropout(o.dropout);
    if (!o.training) dropout.eval();

    let layerInput = seq;
    // Per layer and direction, in order: the final states, and what making them reads.
    const finals: Array<{ needs: Variable[]; make: () => Variable[] }> = [];
    // A one-use copy of the length mask at t (the shared ones may be gone when hN is read).
    const maskAtFinal = (t: number): Variable => {
      const m = new Float64Array(B);
      for (let b = 0; b < B; b++) m[b] = t < (lengths?.[b] as number) ? 1 : 0;
      return transientConstant(
        tensorOn(x.value.backend, x.dtype === 'float64' ? m : Float32Array.from(m), [B, 1], x.dtype),
      );
    };
    for (let k = 0; k < L; k++) {
      const outputs: Variable[] = [];
      for (let d = 0; d < D; d++) {
        const cell = (cells[k] as RecurrentCell[])[d] as RecurrentCell;
        const reverse = d === 1;
        // The input projection for all timesteps at once: one matmul before the recurrence.
        const projected = cell.project(layerInput);
        const G = projected.shape[2];
        let state = Array.from({ length: cell.stateCount }, (_, s) =>
          init ? initAt(init[s] as Variable, k, d) : zeros(),
        );
        const steps: Variable[] = new Array(T);
        for (let i = 0; i < T; i++) {
          const t = reverse ? T - 1 - i : i;
          const next = cell.step(projected.slice([t, 0, 0], [1, B, G]).reshape([B, G]), state);
          const m = maskAt(t);
          if (m && i === T - 1 && recorded(next[0] as Variable)) {
            // The last step's carried state feeds only the final states: in a graph, it is made
            // when they are read, so that an unread hN leaves no dead branch behind.
            const prev = state;
            steps[t] = (next[0] as Variable).mul(m);
            finals.push({
              needs: [...prev, ...next],
              make: () => next.map((s, j) => prev[j]!.add(maskAtFinal(t).mul(s.sub(prev[j]!)))),
            });
            continue;
          }
          if (m) {
            // Past a sequence's end its state is carried unchanged and its output is zero.
            state = next.map((s, j) => state[j]!.add(m.mul(s.sub(state[j]!))));
            steps[t] = (next[0] as Variable).mul(m);
          } else {
            state = next;
            steps[t] = next[0] as Variable;
          }
        }
        outputs.push(stack(steps, 0));
        if (finals.length === k * D + d) {
          const last = state;
          finals.push({ needs: last, make: () => last });
        }
      }
      layerInput = D === 1 ? (outputs[0] as Variable) : concat(outputs, 2);
      // Dropout between layers (not after the last), in training only.
      if (k < L - 1 && o.dropout > 0) layerInput = dropout.forward(layerInput);
    }
    const output = o.batchFirst ? layerInput.transpose([1, 0, 2]) : layerInput;
    // The final states are stacked when first read: a loop that only uses `output` makes no hN
    // that nothing would free. What they are made from stays readable until the next backward(),
    // like an output, so that hN may be read first after backward() too (then without a graph:
    // the one they came from is gone).
    for (const f of finals) for (const v of f.needs) keepPastBackward(v);
    let states: Variable[] | null = null;
    return {
      output,
      get states(): Variable[] {
        if (states === null) {
          const build = () => {
            const made = finals.map((f) => f.make());
            return Array.from({ length: first.stateCount }, (_, j) =>
              stack(
                made.map((list) => list[j] as Variable),
                0,
              ),
            );
          };
          if (!finals.some((f) => f.needs.some((v) => v.freed !== null))) states = build();
          else {
            // After backward(): from the values kept for it, with no graph, freed by the next backward().
            states = noGrad(build);
            for (const s of states) freeAtNextBackward(s);
          }
        }
        return states;
      },
    };
  } finally {
    masks?.dispose();
    for (const v of made) releaseShared(v);
  }
}
