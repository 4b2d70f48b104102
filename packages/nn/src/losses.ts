import { transientConstant, type Variable } from '@wgru/autograd';
import {
  add,
  type Backend,
  cast,
  equal,
  keep,
  mul,
  notEqual,
  reshape,
  shapeString,
  sum as sumT,
  Tensor,
  tensorOn,
  tidy,
} from '@wgru/tensor';
import { describeValue, expectVariable } from './checks.js';
import { Module } from './module.js';

/** 0, 1, ..., C−1 per (backend, C), uploaded once and reused by every call (not once per step). */
const classTensors = new WeakMap<Backend, Map<number, Tensor>>();

function classIndices(backend: Backend, c: number): Tensor {
  let byCount = classTensors.get(backend);
  if (!byCount) {
    byCount = new Map();
    classTensors.set(backend, byCount);
  }
  let t = byCount.get(c);
  if (!t || t.disposed) {
    t = keep(
      tensorOn(
        backend,
        Int32Array.from({ length: c }, (_, i) => i),
        [c],
        'int32',
      ),
    );
    byCount.set(c, t);
  }
  return t;
}

export type Reduction = 'mean' | 'sum' | 'none';

function checkReduction(op: string, r: unknown): Reduction {
  if (r !== 'mean' && r !== 'sum' && r !== 'none')
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(r)}`);
  return r;
}

function checkOptions(op: string, opts: object, allowed: string[]): void {
  if (opts === null || typeof opts !== 'object') throw new Error(`${op}: options must be an object`);
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw new Error(`${op}: unknown option '${k}'`);
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** Targets equal to this index contribute nothing (and are not counted by 'mean'); -100 by default, as PyTorch. */
  ignoreIndex?: number;
  /** ε in [0, 1]: the target distribution is (1 − ε) one-hot + ε / C uniform. */
  labelSmoothing?: number;
}

/**
 * Cross-entropy from raw logits [N, C] and int32 class indices [N], as torch.nn.CrossEntropyLoss:
 * loss_i = −Σ_c q_ic log softmax(logits_i)_c with q the (smoothed) one-hot target. Computed with a
 * log-softmax, so large logits cannot overflow.
 *
 * @example
 * ```ts
 * const logits = variable([[2, 0.5, -1], [0, 1, 3]], { requiresGrad: true });   // [N = 2, C = 3]
 * const targets = tensor([0, 2], undefined, 'int32');                          // [N]
 * const loss = new CrossEntropyLoss().forward(logits, targets);                // mean over N
 * loss.backward();                    // logits.grad = (softmax(logits) − onehot(targets)) / N
 * new CrossEntropyLoss({ labelSmoothing: 0.1, ignoreIndex: -100 });            // options as in PyTorch
 * ```
 */
export class CrossEntropyLoss extends Module {
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;

  constructor(opts: CrossEntropyOptions = {}) {
    super();
    checkOptions('CrossEntropyLoss', opts, ['reduction', 'ignoreIndex', 'labelSmoothing']);
    this.reduction = checkReduction('CrossEntropyLoss', opts.reduction ?? 'mean');
    if (opts.ignoreIndex !== undefined && !Number.isInteger(opts.ignoreIndex))
      throw new Error(`CrossEntropyLoss: ignoreIndex must be an integer, got ${opts.ignoreIndex}`);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.labelSmoothing = opts.labelSmoothing ?? 0;
    if (typeof this.labelSmoothing !== 'number' || !(this.labelSmoothing >= 0 && this.labelSmoothing <= 1)) {
      throw new Error(`CrossEntropyLoss: labelSmoothing must be in [0, 1], got ${opts.labelSmoothing}`);
    }
  }

  /**
   * logits [N, C] and targets [N]: an int32 Tensor (the caller's), or host class indices (an
   * Int32Array or an array of integers), uploaded for this call and freed by it.
   */
  forward(logits: Variable, targets: Tensor | Int32Array | readonly number[]): Variable {
    expectVariable('CrossEntropyLoss', 'logits', logits, '[N, C]');
    if (logits.rank !== 2) throw new Error(`CrossEntropyLoss: logits must be [N, C], got ${shapeString(logits.shape)}`);
    if (targets instanceof Tensor) return this.#forward(logits, targets);
    if (!(targets instanceof Int32Array) && !Array.isArray(targets)) {
      throw new Error(
        `CrossEntropyLoss: targets must be an int32 Tensor [N], an Int32Array or an array of class indices, got ${describeValue(targets)}`,
      );
    }
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      if (typeof t !== 'number' || !Number.isInteger(t)) {
        throw new Error(
          `CrossEntropyLoss: targets[${i}] is ${typeof t === 'number' ? t : describeValue(t)}; targets must be integer class indices`,
        );
      }
    }
    const host = tensorOn(logits.value.backend, Int32Array.from(targets), [targets.length], 'int32');
    try {
      return this.#forward(logits, host);
    } finally {
      host.dispose(); // what the graph keeps, it holds through its own handles
    }
  }

  #forward(logits: Variable, targets: Tensor): Variable {
    if (targets.dtype !== 'int32')
      throw new Error(
        `CrossEntropyLoss: targets must be int32 class indices, got ${targets.dtype} ${shapeString(targets.shape)}`,
      );
    const [n, c] = logits.shape as [number, number];
    if (targets.rank !== 1 || targets.shape[0] !== n) {
      throw new Error(
        `CrossEntropyLoss: targets ${shapeString(targets.shape)} must be [${n}] for logits ${shapeString(logits.shape)}`,
      );
    }
    const known = targets.hostValues;
    if (known) {
      for (let i = 0; i < known.length; i++) {
        const t = known[i];
        if (t !== this.ignoreIndex && (t < 0 || t >= c)) {
          throw new Error(`CrossEntropyLoss: target ${t} at position ${i} is out of range for ${c} classes`);
        }
      }
    }
    const ignore = this.ignoreIndex;
    // Whether any row may be ignored (where the targets are known on the host: whether one is)
    const masked = known ? known.includes(ignore) : true;
    const eps = this.labelSmoothing;
    const q = tidy(() => {
      // q = (1 − ε) onehot(t) + ε / C: the target distribution of each row
      const classes = classIndices(targets.backend, c);
      let q = equal(reshape(targets, [n, 1]), classes);
      if (eps > 0) q = add(mul(q, 1 - eps), eps / c);
      // rows whose target is ignoreIndex count for nothing
      if (masked) q = mul(q, reshape(notEqual(targets, ignore), [n, 1]));
      return logits.dtype === 'float64' ? cast(q, 'float64') : q;
    });
    const logp = logits.logSoftmax(1);
    // loss_i = −Σ_c q_ic log p_ic
    const perRow = logp.mul(transientConstant(q)).sum(1).neg();
    if (this.reduction === 'none') return perRow;
    const total = perRow.sum();
    if (this.reduction === 'sum' || !masked) return this.reduction === 'sum' ? total : total.div(n);
    // mean over the rows that are not ignored (counted on the device: no host read)
    const count = tidy(() => {
      const k = sumT(cast(notEqual(targets, ignore), 'float32'));
      return logits.dtype === 'float64' ? cast(k, 'float64') : k;
    });
    return total.div(transientConstant(count));
  }
}

export interface MSEOptions {
  reduction?: Reduction;
}

/**
 * Mean squared error: mean((input − target)²), or its sum, or per element.
 *
 * @example
 * ```ts
 * const loss = new MSELoss().forward(variable([1, 2, 3]), variable([1, 2, 5]));
 * await loss.item();                                                             // 4 / 3
 * new MSELoss({ reduction: 'none' }).forward(variable([1, 2]), variable([0, 0])); // [1, 4]
 * ```
 */
export class MSELoss extends Module {
  readonly reduction: Reduction;
  constructor(opts: MSEOptions = {}) {
    super();
    checkOptions('MSELoss', opts, ['reduction']);
    this.reduction = checkReduction('MSELoss', opts.reduction ?? 'mean');
  }
  forward(input: Variable, target: Variable | Tensor): Variable {
    expectVariable('MSELoss', 'input', input);
    if (!(target instanceof Tensor)) expectVariable('MSELoss', 'target', target);
    if (input.rank !== target.rank || input.shape.some((d, i) => d !== target.shape[i])) {
      throw new Error(
        `MSELoss: input ${shapeString(input.shape)} and target ${shapeString(target.shape)} must have the same shape`,
      );
    }
    // A Tensor target (as PyTorch's is) is a constant of the graph, freed with the op that reads it.
    const t = target instanceof Tensor ? transientConstant(target.share()) : target;
    const sq = input.sub(t).square();
    return this.reduction === 'none' ? sq : this.reduction === 'sum' ? sq.sum() : sq.mean();
  }
}
