import { type Variable, where } from '@wgru/autograd';
import { greaterEqual, uniform, withBackend, normalizeAxis } from '@wgru/tensor';
import { expectVariable } from '../checks.js';
import { Module, traceModule } from '../module.js';

/**
 * softmax along `axis` as a module.
 *
 * @example
 * ```ts
 * await new Softmax(-1).forward(variable([[0, 0]])).data();   // Float32Array [0.5, 0.5]
 * ```
 */
export class Softmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }
  forward(x: Variable): Variable {
    expectVariable('Softmax.forward', 'x', x);
    normalizeAxis('Softmax', this.axis, x.rank);
    return traceModule(
      this,
      [x],
      () => x.softmax(this.axis),
      (y) => [y],
    );
  }
}

/**
 * log-softmax along `axis` as a module.
 *
 * @example
 * ```ts
 * const logp = new LogSoftmax(-1).forward(variable([[1, 2, 3]]));   // log-probabilities per row
 * ```
 */
export class LogSoftmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }
  forward(x: Variable): Variable {
    expectVariable('LogSoftmax.forward', 'x', x);
    normalizeAxis('LogSoftmax', this.axis, x.rank);
    return traceModule(
      this,
      [x],
      () => x.logSoftmax(this.axis),
      (y) => [y],
    );
  }
}

/**
 * In training mode, zeroes each element with probability p and scales the rest by 1/(1−p)
 * (p = 1: zeroes everything, as PyTorch); in eval mode, the identity.
 *
 * @example
 * ```ts
 * const drop = new Dropout(0.5);
 * const x = variable(ones([2, 4]));
 * drop.forward(x);          // about half the entries 0, the others 2
 * drop.eval().forward(x);   // x itself
 * ```
 */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Variable): Variable {
    expectVariable('Dropout.forward', 'x', x);
    return traceModule(
      this,
      [x],
      () => this.drop(x),
      (y) => [y],
    );
  }

  private drop(x: Variable): Variable {
    if (!this.training || this.p === 0) return x;
    if (this.p === 1) return x.mul(0); // all dropped (and no 1/(1 − p) = ∞ to make a NaN gradient)
    const u = withBackend(x.value.backend, () => uniform(x.shape));
    const keep = greaterEqual(u, this.p);
    u.dispose();
    const out = where(keep, x.mul(1 / (1 - this.p)), 0);
    keep.dispose(); // `where` holds its own handle until backward frees the graph
    return out;
  }
}
