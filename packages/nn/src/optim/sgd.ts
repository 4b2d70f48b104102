/**
 * Stochastic gradient descent with momentum, as torch.optim.SGD.
 * @module
 */
import type { Variable } from '@wgru/autograd';
import { assign, type Tensor } from '@wgru/tensor';
import { fuse, type Term } from './fused.js';
import { checkBoolean, checkNumber, checkOptionNames, Optimizer } from './optimizer.js';
import type { HyperValue, StateLayout } from './state-dict.js';

/** Options of {@link SGD}; defaults as torch.optim.SGD. */
export interface SGDOptions {
  /** Learning rate γ (default 1e-3, torch's default since 2.2). */
  lr?: number;
  /** Momentum factor μ (default 0: no momentum buffer). */
  momentum?: number;
  /** Dampening τ of the momentum (default 0). */
  dampening?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** L2 penalty λ, added to the gradient as λ·θ (default 0). */
  weightDecay?: number;
}

const OPTIONS = ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay'] as const;

/** Per-parameter state: the momentum buffer, null until the first step. */
interface SGDState {
  momentumBuffer: Tensor | null;
}

/**
 * SGD, step by step as torch.optim.SGD documents it:
 *
 * ```text
 * g ← ∇θ + λθ                                   (weight decay, if λ ≠ 0)
 * b ← g at the first step, else μb + (1 − τ)g    (if μ ≠ 0)
 * g ← g + μb (nesterov) or b                     (if μ ≠ 0)
 * θ ← θ − γg
 * ```
 *
 * @example
 * ```ts
 * const model = new Linear(2, 1, { seed: 0 });
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * const loss = model.forward(variable([[1, 2], [3, 4]])).square().mean();
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class SGD extends Optimizer<SGDState> {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(params: Iterable<Variable>, opts: SGDOptions = {}) {
    checkOptionNames('SGD', opts, OPTIONS);
    super('SGD', params, opts.lr ?? 1e-3);
    this.momentum = checkNumber('SGD', 'momentum', opts.momentum ?? 0, { min: 0 });
    this.dampening = checkNumber('SGD', 'dampening', opts.dampening ?? 0);
    this.nesterov = checkBoolean('SGD', 'nesterov', opts.nesterov ?? false);
    this.weightDecay = checkNumber('SGD', 'weightDecay', opts.weightDecay ?? 0, { min: 0 });
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }

  protected readonly stateLayout: StateLayout<SGDState> = {
    tensors: { momentumBuffer: 'momentum_buffer' },
    numbers: {},
  };

  protected hyperparameters(): Record<string, HyperValue> {
    const { lr, momentum, dampening, nesterov, weightDecay } = this;
    return { lr, momentum, dampening, nesterov, weightDecay };
  }

  protected initState(): SGDState {
    return { momentumBuffer: null };
  }

  protected update(p: Variable, grad: Tensor, state: SGDState): void {
    const { lr, momentum: mu, dampening, nesterov, weightDecay: wd } = this;
    const theta = p.value;
    // g + λθ, left out entirely when λ = 0 (so that an infinite θ does not give ∞·0 = NaN)
    const decayed = (g: Term, t: Term): Term => (wd === 0 ? g : g.add(t.mul(wd)));
    if (mu === 0) {
      assign(
        theta,
        fuse('SGD', [theta, grad], (t, g) => t.sub(decayed(g, t).mul(lr))),
      );
      return;
    }
    const first = state.momentumBuffer === null;
    const prev = state.momentumBuffer ?? grad; // unused by the formula at the first step
    const buf = fuse('SGD.momentum', [prev, grad, theta], (b, g, t) => {
      const d = decayed(g, t);
      return first ? d : b.mul(mu).add(d.mul(1 - dampening));
    });
    state.momentumBuffer = this.replace(state.momentumBuffer, buf);
    const next = nesterov
      ? fuse('SGD', [theta, grad, buf], (t, g, b) => t.sub(decayed(g, t).add(b.mul(mu)).mul(lr)))
      : fuse('SGD', [theta, buf], (t, b) => t.sub(b.mul(lr)));
    assign(theta, next);
  }
}
