/**
 * Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW.
 * @module
 */
import type { Variable } from '@wgru/autograd';
import { assign, fillOn, type Tensor } from '@wgru/tensor';
import { fuse, type Term } from './fused.js';
import { checkBoolean, checkNumber, checkOptionNames, Optimizer } from './optimizer.js';
import type { HyperValue, StateLayout } from './state-dict.js';

/** Options of {@link Adam} and {@link AdamW}; defaults as torch.optim. */
export interface AdamOptions {
  /** Learning rate γ (default 1e-3). */
  lr?: number;
  /** Decay rates (β1, β2) of the moment estimates, each in [0, 1) (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty λ added to the gradient (default 0). AdamW: decoupled decay λ (default 1e-2). */
  weightDecay?: number;
  /** Use the maximum of the second moments so far (AMSGrad; default false). */
  amsgrad?: boolean;
}

const OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad'] as const;

/** Per-parameter state: the step count t and the moment estimates. */
interface AdamState {
  step: number;
  /** First moment m (exp_avg). */
  m: Tensor;
  /** Second moment v (exp_avg_sq). */
  v: Tensor;
  /** max over steps of v (AMSGrad only). */
  vMax: Tensor | null;
}

/**
 * Adam, step by step as torch.optim.Adam computes it (t counts this parameter's steps):
 *
 * ```text
 * g ← ∇θ + λθ                                (Adam's weight decay: L2 in the gradient, if λ ≠ 0)
 * m ← β1·m + (1 − β1)·g
 * v ← β2·v + (1 − β2)·g²
 * v ← max(v_max, v), kept as v_max            (AMSGrad)
 * θ ← θ − γ/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
 * ```
 *
 * AdamW differs only in the weight decay: θ ← θ − γλθ before the step, and no λθ in g.
 *
 * @example
 * ```ts
 * const model = new Linear(2, 1, { seed: 0 });
 * const opt = new Adam(model.parameters(), { lr: 1e-2, betas: [0.9, 0.999] });
 * const loss = model.forward(variable([[1, 2], [3, 4]])).square().mean();
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class Adam extends Optimizer<AdamState> {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  /** Whether weight decay is decoupled from the gradient (AdamW). */
  protected readonly decoupled: boolean;
  /** Set by AdamW (and read from the class being constructed, so that subclasses inherit it). */
  protected static readonly decoupledDecay: boolean = false;

  constructor(params: Iterable<Variable>, opts: AdamOptions = {}) {
    const decoupled = (new.target as typeof Adam).decoupledDecay;
    const name = decoupled ? 'AdamW' : 'Adam';
    checkOptionNames(name, opts, OPTIONS);
    super(name, params, opts.lr ?? 1e-3);
    const betas: unknown = opts.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2)
      throw new Error(`${name}: betas must be a pair [β1, β2], got ${JSON.stringify(betas)}`);
    this.beta1 = checkNumber(name, 'betas[0]', betas[0], { min: 0, max: 1 });
    this.beta2 = checkNumber(name, 'betas[1]', betas[1], { min: 0, max: 1 });
    this.eps = checkNumber(name, 'eps', opts.eps ?? 1e-8, { min: 0 });
    this.decoupled = decoupled;
    this.weightDecay = checkNumber(name, 'weightDecay', opts.weightDecay ?? (this.decoupled ? 1e-2 : 0), { min: 0 });
    this.amsgrad = checkBoolean(name, 'amsgrad', opts.amsgrad ?? false);
  }

  protected readonly stateLayout: StateLayout<AdamState> = {
    tensors: { m: 'exp_avg', v: 'exp_avg_sq', vMax: 'max_exp_avg_sq' },
    numbers: { step: 'step' },
  };

  protected hyperparameters(): Record<string, HyperValue> {
    const { lr, beta1, beta2, eps, weightDecay, amsgrad } = this;
    return { lr, betas: [beta1, beta2], eps, weightDecay, amsgrad };
  }

  protected initState(p: Variable): AdamState {
    const zeros = (): Tensor => fillOn(p.value.backend, p.shape, 0, p.dtype, this.name);
    return { step: 0, m: zeros(), v: zeros(), vMax: this.amsgrad ? zeros() : null };
  }

  protected update(p: Variable, grad: Tensor, s: AdamState): void {
    const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, decoupled } = this;
    const theta = p.value;
    s.step += 1;
    const stepSize = lr / (1 - b1 ** s.step);
    const bias2Sqrt = Math.sqrt(1 - b2 ** s.step);
    // The gradient with Adam's L2 term (left out when λ = 0 or decoupled, as torch does).
    const g = (g: Term, t: Term): Term => (decoupled || wd === 0 ? g : g.add(t.mul(wd)));

    s.m = this.replace(
      s.m,
      fuse(`${this.name}.m`, [s.m, grad, theta], (m, gr, t) => m.mul(b1).add(g(gr, t).mul(1 - b1))),
    );
    s.v = this.replace(
      s.v,
      fuse(`${this.name}.v`, [s.v, grad, theta], (v, gr, t) => {
        const d = g(gr, t);
        return v.mul(b2).add(d.mul(d).mul(1 - b2));
      }),
    );
    let second = s.v;
    if (s.vMax !== null) {
      s.vMax = this.replace(
        s.vMax,
        fuse(`${this.name}.vMax`, [s.vMax, s.v], (a, b) => a.maximum(b)),
      );
      second = s.vMax;
    }
    const next = fuse(`${this.name}.step`, [theta, s.m, second], (t, m, v) => {
      const decayed = decoupled && wd !== 0 ? t.mul(1 - lr * wd) : t;
      return decayed.sub(m.div(v.sqrt().div(bias2Sqrt).add(eps)).mul(stepSize));
    });
    assign(theta, next);
  }
}

/**
 * AdamW: Adam with decoupled weight decay (θ ← θ − γλθ before the Adam step), as
 * torch.optim.AdamW; weightDecay defaults to 1e-2. Same options as {@link Adam}.
 *
 * @example
 * ```ts
 * const model = new Linear(4, 2, { seed: 0 });
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
 * ```
 */
export class AdamW extends Adam {
  protected static override readonly decoupledDecay: boolean = true;
}
