/**
 * An optimizer's state as data, to save with the weights and resume a run: torch.optim's
 * `state_dict()` / `load_state_dict()`, split into tensors (which go into safetensors) and the
 * few numbers beside them (which go into the file's JSON metadata).
 * @module
 */
import type { Variable } from '@wgru/autograd';
import { assign, fillOn, keep, shapeString, type Tensor, Tensor as TensorClass, tensorOn } from '@wgru/tensor';

/** A hyperparameter's value, as it appears in {@link OptimizerStateDict.hyper}. */
export type HyperValue = number | boolean | readonly number[];

/**
 * What `optimizer.stateDict()` returns and `loadStateDict()` takes. The tensors are the
 * optimizer's own (valid until its next `step()`): save or copy them before stepping on.
 */
export interface OptimizerStateDict {
  /**
   * Per-parameter state tensors by `<index of the parameter>.<name>`, with torch's names: Adam's
   * `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with AMSGrad), SGD's `momentum_buffer`.
   */
  state: Record<string, Tensor>;
  /** Per-parameter step counts by index of the parameter (Adam; torch's `state[i]['step']`). */
  steps: Record<string, number>;
  /** The hyperparameters (torch's `param_groups[0]` without `params`): lr, betas, eps, ... */
  hyper: Record<string, HyperValue>;
}

/** What the dict given to `loadStateDict` may hold: tensors, or their row-major values. */
export interface OptimizerStateDictInput {
  state: Record<string, Tensor | Float32Array>;
  steps: Record<string, number>;
  hyper: Record<string, HyperValue>;
}

/** How one optimizer's per-parameter state maps to names: tensor fields and number fields. */
export interface StateLayout<S> {
  tensors: Partial<Record<keyof S & string, string>>;
  numbers: Partial<Record<keyof S & string, string>>;
}

/** Builds the dict from per-parameter state (see Optimizer.stateDict). */
export function toStateDict<S extends object>(
  params: readonly Variable[],
  states: ReadonlyMap<Variable, S>,
  layout: StateLayout<S>,
  hyper: Record<string, HyperValue>,
): OptimizerStateDict {
  const state: Record<string, Tensor> = {};
  const steps: Record<string, number> = {};
  params.forEach((p, i) => {
    const s = states.get(p) as Record<string, unknown> | undefined;
    if (s === undefined) return;
    for (const [field, name] of Object.entries(layout.tensors) as [string, string][]) {
      const t = s[field];
      if (t instanceof TensorClass) state[`${i}.${name}`] = t;
    }
    for (const field of Object.keys(layout.numbers)) steps[String(i)] = s[field] as number;
  });
  return { state, steps, hyper: { ...hyper } };
}

/**
 * Checks `dict` against the optimizer (its parameters and hyperparameters) and builds the state
 * of every parameter it names. Nothing is changed until everything has been checked.
 * @throws Error naming the key and the shapes or values that disagree.
 */
export function fromStateDict<S extends object>(
  owner: string,
  params: readonly Variable[],
  dict: OptimizerStateDictInput,
  layout: StateLayout<S>,
  hyper: Record<string, HyperValue>,
  initState: (p: Variable) => S,
): { states: Map<Variable, S>; lr: number } {
  const where = `${owner}.loadStateDict`;
  if (dict === null || typeof dict !== 'object' || typeof dict.state !== 'object' || typeof dict.hyper !== 'object') {
    throw new Error(`${where}: expected { state, steps, hyper } as stateDict() returns`);
  }
  for (const [key, mine] of Object.entries(hyper)) {
    if (key === 'lr') continue;
    const theirs = dict.hyper[key];
    if (JSON.stringify(theirs) !== JSON.stringify(mine)) {
      throw new Error(`${where}: ${key} is ${JSON.stringify(theirs)} in the dict but ${JSON.stringify(mine)} here`);
    }
  }
  const lr = dict.hyper.lr;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0)
    throw new Error(`${where}: hyper.lr must be a number ≥ 0, got ${JSON.stringify(lr)}`);
  const names = new Map(Object.entries(layout.tensors).map(([f, n]) => [n as string, f]));
  const known = new Set<string>();
  for (const key of Object.keys(dict.state)) {
    const [index, name] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
    const i = Number(index);
    if (!Number.isInteger(i) || i < 0 || i >= params.length || !names.has(name)) {
      throw new Error(
        `${where}: unexpected key '${key}' (keys are <index>.<name>, index below ${params.length}, name one of ${[...names.keys()].join(', ')})`,
      );
    }
    const p = params[i] as Variable;
    const v = dict.state[key] as Tensor | Float32Array;
    const size = v instanceof TensorClass ? v.size : v instanceof Float32Array ? v.length : -1;
    if (size !== p.size || (v instanceof TensorClass && shapeString(v.shape) !== shapeString(p.shape))) {
      const got =
        v instanceof TensorClass ? shapeString(v.shape) : v instanceof Float32Array ? `${size} values` : typeof v;
      throw new Error(`${where}: '${key}' is ${got} but params[${i}] has shape ${shapeString(p.shape)}`);
    }
    if (v instanceof TensorClass && v.backend !== p.value.backend) {
      throw new Error(
        `${where}: '${key}' lives on the ${v.backend.info.name} backend, params[${i}] on ${p.value.backend.info.name}`,
      );
    }
    known.add(index);
  }
  for (const [index, step] of Object.entries(dict.steps ?? {})) {
    if (!Number.isSafeInteger(step) || step < 0)
      throw new Error(`${where}: steps['${index}'] must be a non-negative integer, got ${JSON.stringify(step)}`);
    known.add(index);
  }
  const states = new Map<Variable, S>();
  for (const index of known) {
    const p = params[Number(index)] as Variable;
    const s = initState(p) as Record<string, unknown>;
    for (const [field, name] of Object.entries(layout.tensors) as [string, string][]) {
      const v = dict.state[`${index}.${name}`];
      if (v === undefined) continue;
      let t = s[field] as Tensor | null;
      t ??= fillOn(p.value.backend, p.shape, 0, p.dtype, where);
      if (v instanceof TensorClass) assign(t, v);
      else {
        const host = tensorOn(p.value.backend, v, p.shape, p.dtype);
        assign(t, host);
        host.dispose();
      }
      s[field] = t;
    }
    for (const field of Object.keys(layout.numbers)) s[field] = dict.steps?.[index] ?? 0;
    for (const v of Object.values(s)) if (v instanceof TensorClass) keep(v);
    states.set(p, s as S);
  }
  return { states, lr };
}
