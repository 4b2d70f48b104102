import type { Variable } from '@wgru/autograd';
import { Tensor } from '@wgru/tensor';
import { type InitOptions, normalParameter } from '../init.js';
import { Module, type Parameter } from '../module.js';

/**
 * A lookup table: row i of `weight` [num, dim] for each int32 index i. Initialised N(0, 1), as
 * in PyTorch. Its gradient is a scatter-add of the output gradient into the rows used.
 */
export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
    opts: InitOptions = {},
  ) {
    super();
    for (const [k, v] of [['numEmbeddings', numEmbeddings], ['dim', dim]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`Embedding: ${k} must be a positive integer, got ${v}`);
    }
    this.weight = normalParameter([numEmbeddings, dim], opts);
  }

  /** indices: int32 Tensor of any shape -> [...indices.shape, dim]. */
  forward(indices: Tensor): Variable {
    if (!(indices instanceof Tensor) || indices.dtype !== 'int32') {
      throw new Error(`Embedding.forward: indices must be an int32 Tensor, got ${indices instanceof Tensor ? indices.dtype : typeof indices}`);
    }
    return this.weight.gather(indices, 0);
  }
}
