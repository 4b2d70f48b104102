import { isGradEnabled, type Variable, variable } from '@wgru/autograd';
import { matmul, shapeString } from '@wgru/tensor';
import { type InitOptions, uniformParameter } from '../init.js';
import { expectVariable } from '../checks.js';
import { Module, type Parameter, traceModule } from '../module.js';

export interface LinearOptions extends InitOptions {
  /** Whether to add a bias (default true). */
  bias?: boolean;
}

/**
 * y = x W + b, with W: [in, out] and b: [out] (row-vector convention, as in the seed). Both drawn
 * from U(−1/√in, 1/√in), PyTorch's default.
 *
 * @example
 * ```ts
 * const fc = new Linear(3, 2, { seed: 0 });
 * const y = fc.forward(variable([[1, 2, 3]])); // [1, 2]
 * ```
 */
export class Linear extends Module {
  readonly W: Parameter;
  readonly b: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    for (const [k, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`Linear: ${k} must be a positive integer, got ${v}`);
    }
    const bound = 1 / Math.sqrt(inFeatures);
    this.W = uniformParameter([inFeatures, outFeatures], bound, opts);
    this.b = opts.bias === false ? null : uniformParameter([outFeatures], bound, opts, 1);
  }

  forward(x: Variable): Variable {
    return traceModule(
      this,
      [x],
      () => this.apply(x),
      (y) => [y],
    );
  }

  private apply(x: Variable): Variable {
    expectVariable('Linear.forward', 'x', x, `[..., ${this.inFeatures}]`);
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(`Linear.forward: x has shape ${shapeString(x.shape)}, expected last axis ${this.inFeatures}`);
    }
    // Without a tape (inference), the bias is added by the matmul kernel as it stores: one kernel.
    if (!isGradEnabled()) return variable(matmul(x.value, this.W.value, this.b?.value ?? null));
    const y = x.matmul(this.W);
    return this.b ? y.add(this.b) : y;
  }
}
