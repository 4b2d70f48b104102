import type { Variable } from '@wgru/autograd';
import type { InitOptions } from '../init.js';
import { Module, traceModule } from '../module.js';
import {
  checkRecurrentOptions,
  type RecurrentCell,
  type RecurrentOptions,
  type RecurrentResult,
  runRecurrent,
} from './recurrent.js';

/** What a stack needs to build one of its cells. */
export interface CellSpec extends InitOptions {
  inputSize: number;
  hiddenSize: number;
  bias: boolean;
}

/**
 * The part GRU, LSTM and RNN share: a stack of cells, numLayers deep and one or two directions
 * wide, held in properties l0, l0_reverse, l1, ... (so parameters are named l0.W, l0_reverse.U,
 * ... as in the contract), and the run of a whole sequence through them.
 */
export abstract class RecurrentLayer<C extends RecurrentCell> extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;

  protected constructor(
    private readonly kind: string,
    opts: RecurrentOptions & InitOptions,
    extraOptions: string[],
    makeCell: (spec: CellSpec) => C,
  ) {
    super();
    const o = checkRecurrentOptions(kind, opts, extraOptions);
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    this.numLayers = o.numLayers;
    this.bidirectional = o.bidirectional;
    this.batchFirst = o.batchFirst;
    this.dropout = o.dropout;
    const D = o.bidirectional ? 2 : 1;
    for (let k = 0; k < o.numLayers; k++) {
      for (let d = 0; d < D; d++) {
        // Each cell its own seed, so that layers and directions start different.
        const seed = opts.seed === undefined ? undefined : opts.seed + 16 * (k * D + d);
        const cell = makeCell({
          inputSize: k === 0 ? o.inputSize : D * o.hiddenSize,
          hiddenSize: o.hiddenSize,
          bias: o.bias,
          ...(seed === undefined ? {} : { seed }),
          ...(opts.backend ? { backend: opts.backend } : {}),
          ...(opts.dtype ? { dtype: opts.dtype } : {}),
        });
        (this as unknown as Record<string, C>)[d === 0 ? `l${k}` : `l${k}_reverse`] = cell;
      }
    }
  }

  /** The cell of layer k, direction d (0 forward, 1 reverse). */
  cell(k: number, d = 0): C {
    const c = (this as unknown as Record<string, C | undefined>)[d === 0 ? `l${k}` : `l${k}_reverse`];
    if (!c) throw new Error(`${this.kind}.cell: no layer ${k} direction ${d}`);
    return c;
  }

  /** Runs the whole stack over x with the given initial states (see runRecurrent). */
  protected run(x: Variable, init: Variable[] | undefined, opts: { lengths?: Int32Array }): RecurrentResult {
    if (opts === null || typeof opts !== 'object')
      throw new Error(`${this.kind}.forward: options must be an object like { lengths }`);
    for (const k of Object.keys(opts))
      if (k !== 'lengths') throw new Error(`${this.kind}.forward: unknown option '${k}'`);
    const D = this.bidirectional ? 2 : 1;
    const cells = Array.from({ length: this.numLayers }, (_, k) =>
      Array.from({ length: D }, (_, d) => this.cell(k, d)),
    );
    return runRecurrent(this.kind, cells, x, init, {
      batchFirst: this.batchFirst,
      dropout: this.dropout,
      training: this.training,
      lengths: opts.lengths,
    });
  }

  /**
   * The forward of a layer whose only state is h (GRU, RNN): output and hN. While exportOnnx
   * traces, the whole layer is one op (see traceModule): one ONNX GRU or RNN node per layer.
   */
  protected forwardHidden(
    x: Variable,
    h0: Variable | undefined,
    opts: { lengths?: Int32Array },
  ): { output: Variable; hN: Variable } {
    return traceModule(
      this,
      [x, h0, opts?.lengths],
      () => {
        const r = this.run(x, h0 ? [h0] : undefined, opts);
        // hN is made when first read (before backward(), or until the next one: see runRecurrent).
        return {
          output: r.output,
          get hN(): Variable {
            return r.states[0] as Variable;
          },
        };
      },
      (r) => [r.output, r.hN],
    );
  }
}
