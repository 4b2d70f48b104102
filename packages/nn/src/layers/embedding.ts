import type { Variable } from '@wgru/autograd';
import { type NestedArray, shapeString, Tensor, tensorOn } from '@wgru/tensor';
import { type InitOptions, normalParameter } from '../init.js';
import { Module, type Parameter, traceModule } from '../module.js';

/**
 * A lookup table: row i of `weight` [num, dim] for each int32 index i. Initialised N(0, 1), as
 * in PyTorch. Its gradient is a scatter-add of the output gradient into the rows used.
 *
 * @example
 * ```ts
 * const embed = new Embedding(10, 4, { seed: 0 });   // 10 tokens, 4 features each
 * const x = embed.forward([[1, 2, 2], [0, 9, 3]]);   // [T = 2, B = 3] ids -> [2, 3, 4]
 * x.sum().backward();                                // row 2 of weight.grad is 2s: used twice
 * ```
 */
export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
    opts: InitOptions = {},
  ) {
    super();
    for (const [k, v] of [
      ['numEmbeddings', numEmbeddings],
      ['dim', dim],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`Embedding: ${k} must be a positive integer, got ${v}`);
    }
    this.weight = normalParameter([numEmbeddings, dim], opts);
  }

  /**
   * indices: int32 of any shape -> [...indices.shape, dim]. A Tensor stays the caller's; host
   * indices (an Int32Array, or nested arrays of integers) are uploaded for this call and freed
   * with the graph, so a training loop that passes host batches leaves nothing to dispose.
   * Every index must be in [0, numEmbeddings) (checked when the values are known on the host).
   */
  forward(indices: Tensor | Int32Array | NestedArray): Variable {
    return traceModule(
      this,
      [indices],
      () => this.lookup(indices),
      (y) => [y],
    );
  }

  private lookup(indices: Tensor | Int32Array | NestedArray): Variable {
    const own = !(indices instanceof Tensor);
    let t: Tensor;
    if (indices instanceof Tensor) {
      if (indices.dtype !== 'int32')
        throw new Error(`Embedding.forward: indices must be int32, got ${indices.dtype} ${shapeString(indices.shape)}`);
      t = indices;
    } else if (indices instanceof Int32Array || Array.isArray(indices)) {
      try {
        t = tensorOn(this.weight.value.backend, indices, undefined, 'int32');
      } catch (e) {
        throw new Error(`Embedding.forward: indices: ${(e as Error).message}`);
      }
    } else {
      const got =
        indices === null ? 'null' : ArrayBuffer.isView(indices) ? (indices as object).constructor.name : typeof indices;
      throw new Error(
        `Embedding.forward: indices must be an int32 Tensor, an Int32Array or nested arrays of integers, got ${got}`,
      );
    }
    try {
      const host = t.hostValues;
      if (host) {
        for (let i = 0; i < host.length; i++) {
          const j = host[i];
          if (j < 0 || j >= this.numEmbeddings) {
            throw new Error(
              `Embedding.forward: index ${j} at position ${i} is out of range for ${this.numEmbeddings} embeddings (indices ${shapeString(t.shape)})`,
            );
          }
        }
      }
      return this.weight.gather(t, 0);
    } finally {
      if (own) t.dispose(); // the gather holds its own handle until backward frees the graph
    }
  }
}
