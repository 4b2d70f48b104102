/**
 * The base of the optimizers: a validated list of parameters, per-parameter state, `zeroGrad()`,
 * and a `step()` that hands each parameter with a gradient to the subclass's update rule.
 *
 * Updates run as raw tensor ops outside the tape (no graph is recorded), inside `tidy` so that
 * temporaries are freed, and write the parameters in place with `assign`: `module.stateDict()`
 * keeps seeing the live values. Nothing in a step reads from the device, so on WebGPU a whole
 * training step stays one batch of GPU work.
 *
 * @module
 */
import { Variable } from '@wgru/autograd';
import { keep, shapeString, type Tensor, Tensor as TensorClass, tidy } from '@wgru/tensor';
import {
  fromStateDict,
  type HyperValue,
  type OptimizerStateDict,
  type OptimizerStateDictInput,
  type StateLayout,
  toStateDict,
} from './state-dict.js';

/**
 * An optimizer over a fixed list of parameters. Subclasses implement {@link Optimizer.update}
 * (the rule for one parameter) and {@link Optimizer.initState} (its state before the first
 * step); `step()` skips parameters whose `grad` is null, as torch.optim does.
 *
 * @example
 * ```ts
 * const model = new Linear(3, 1, { seed: 0 });
 * const x = variable(randn([16, 3], { seed: 1 }));
 * const y = variable(randn([16, 1], { seed: 2 }));
 * const lossFn = new MSELoss();
 * const opt = new Adam(model.parameters(), { lr: 1e-2 });
 * for (let step = 0; step < 20; step++) {
 *   const loss = lossFn.forward(model.forward(x), y);
 *   loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 * }
 * ```
 */
export abstract class Optimizer<S extends object> {
  /** The parameters, in the order given. */
  readonly params: readonly Variable[];
  /** State per parameter (moment buffers, step counts), created at its first update. */
  protected readonly state = new Map<Variable, S>();
  #lr: number;

  /**
   * @param name the optimizer's name, for error messages (`'SGD'`, `'Adam'`, ...)
   * @param params the parameters to update: Parameters or other leaf Variables, no duplicates, at least one
   * @param lr the learning rate (≥ 0)
   */
  protected constructor(
    readonly name: string,
    params: Iterable<Variable>,
    lr: number,
  ) {
    if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
      throw new Error(
        `${name}: params must be an array (or iterable) of Parameters or Variables, got ${describe(params)}`,
      );
    }
    const list = [...params];
    if (list.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const seen = new Set<Variable>();
    list.forEach((p, i) => {
      // As torch.optim: any leaf Variable (a Variable, or one made with variable(...)).
      if (!(p instanceof Variable))
        throw new Error(`${name}: params[${i}] must be a Parameter or Variable, got ${describe(p)}`);
      if (!p.isLeaf)
        throw new Error(
          `${name}: params[${i}] was made by an op (${p.node?.op ?? p.freed?.op}), not created: only leaf Variables can be optimized`,
        );
      if (seen.has(p)) throw new Error(`${name}: params[${i}] appears more than once in the parameter list`);
      if (p.dtype === 'int32')
        throw new Error(`${name}: params[${i}] is int32; only float parameters can be optimized`);
      seen.add(p);
    });
    this.params = Object.freeze(list);
    this.#lr = checkNumber(name, 'lr', lr, { min: 0 });
  }

  /** The learning rate. May be changed between steps (a schedule); it must stay ≥ 0. */
  get lr(): number {
    return this.#lr;
  }
  set lr(value: number) {
    this.#lr = checkNumber(this.name, 'lr', value, { min: 0 });
  }

  /** Sets every parameter's `grad` to null (disposing it), like torch's `zero_grad()`. */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /**
   * One update of every parameter that has a gradient. Records no graph, reads nothing back from
   * the device, and frees every temporary it makes.
   */
  step(): void {
    this.params.forEach((p, i) => {
      const grad = p.grad;
      if (grad === null) return;
      if (grad.rank !== p.rank || grad.shape.some((d, k) => d !== p.shape[k])) {
        throw new Error(
          `${this.name}: the gradient of params[${i}] has shape ${shapeString(grad.shape)} but the parameter has shape ${shapeString(p.shape)}`,
        );
      }
      let s = this.state.get(p);
      if (s === undefined) {
        s = this.initState(p);
        for (const v of Object.values(s)) if (v instanceof TensorClass) keep(v); // outlives any open tidy
        this.state.set(p, s);
      }
      const state = s;
      tidy(() => this.update(p, grad, state));
    });
  }

  /**
   * The optimizer's state, to save beside the weights and resume from: per-parameter tensors
   * (torch's names), step counts and hyperparameters, as torch.optim's `state_dict()`. The tensors
   * are the optimizer's own, valid until the next `step()`. Round trip through safetensors:
   * the tensors as tensors, the rest as JSON metadata.
   *
   * @example
   * ```ts
   * const model = new Linear(2, 1, { seed: 0 });
   * const opt = new Adam(model.parameters(), { lr: 1e-2 });
   * model.forward(variable([[1, 2]])).sum().backward();
   * opt.step();
   * const sd = opt.stateDict();
   * Object.keys(sd.state);   // ['0.exp_avg', '0.exp_avg_sq', '1.exp_avg', '1.exp_avg_sq']
   * const bytes = await saveSafetensors(sd.state, { optimizer: JSON.stringify({ steps: sd.steps, hyper: sd.hyper }) });
   * const { steps, hyper } = JSON.parse(decodeSafetensors(bytes).metadata.optimizer);
   * const again = new Adam(model.parameters(), { lr: 1e-2 });
   * again.loadStateDict({ state: loadSafetensors(bytes), steps, hyper });
   * ```
   */
  stateDict(): OptimizerStateDict {
    return toStateDict(this.params, this.state, this.stateLayout, this.hyperparameters());
  }

  /**
   * Replaces the optimizer's state with `dict`'s (copied): what `stateDict()` gave, or its values
   * loaded back (Float32Arrays or Tensors by the same keys). The learning rate is taken from the
   * dict, as torch does; the other hyperparameters must be the same as this optimizer's. Everything
   * is checked before anything changes.
   * @throws Error naming the key and what disagrees.
   */
  loadStateDict(dict: OptimizerStateDictInput): void {
    const { states, lr } = fromStateDict(this.name, this.params, dict, this.stateLayout, this.hyperparameters(), (p) =>
      this.initState(p),
    );
    this.dispose();
    for (const [p, s] of states) this.state.set(p, s);
    this.lr = lr;
  }

  /** The names of the per-parameter state's fields in a state dict (torch's). */
  protected abstract readonly stateLayout: StateLayout<S>;

  /** The hyperparameters, by their option names. */
  protected abstract hyperparameters(): Record<string, HyperValue>;

  /** Frees the optimizer's state tensors. The optimizer starts afresh if stepped again. */
  dispose(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof TensorClass) v.dispose();
    this.state.clear();
  }

  /** `using opt = new Adam(...)` frees the state at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The state of one parameter before its first update. */
  protected abstract initState(p: Variable): S;

  /**
   * Updates `p` in place from `grad` (already checked to have p's shape), inside a `tidy`.
   * A state tensor replaced by a new one must be passed through {@link Optimizer.replace}.
   */
  protected abstract update(p: Variable, grad: Tensor, state: S): void;

  /** Disposes `previous` (if any) and keeps `next` alive beyond the step's `tidy`. */
  protected replace(previous: Tensor | null, next: Tensor): Tensor {
    previous?.dispose();
    return keep(next);
  }
}

/** Throws unless `opts` is an object whose keys are all in `allowed`. */
export function checkOptionNames(owner: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`${owner}: options must be an object, got ${describe(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) throw new Error(`${owner}: unknown option '${k}' (known: ${allowed.join(', ')})`);
  }
}

/**
 * Checks that option `option` is a finite number in [min, max) (or [min, max] with
 * `maxInclusive`) and returns it.
 */
export function checkNumber(
  owner: string,
  option: string,
  value: unknown,
  range: { min?: number; max?: number; maxInclusive?: boolean } = {},
): number {
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY, maxInclusive = false } = range;
  const ok =
    typeof value === 'number' && Number.isFinite(value) && value >= min && (maxInclusive ? value <= max : value < max);
  if (!ok) {
    const upper = max === Number.POSITIVE_INFINITY ? '∞)' : `${max}${maxInclusive ? ']' : ')'}`;
    throw new Error(`${owner}: ${option} must be a finite number in [${min}, ${upper}, got ${describe(value)}`);
  }
  return value;
}

/** Checks that option `option` is a boolean and returns it. */
export function checkBoolean(owner: string, option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new Error(`${owner}: ${option} must be true or false, got ${describe(value)}`);
  return value;
}

/** A short description of any value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}
