/**
 * Sparse slices (rewrite 2 of ./accumulate.ts): the gradient of a slice is its `g` placed in a
 * block of zeros. The block stays sparse until the gradient it belongs to is complete, and is
 * then written into place with the others: the block, and how blocks are written.
 *
 * (Tried and left out: handing a view's blocks on to its input, so that a GRU step's gate blocks
 * go straight into the [T, B, 3H] projection's gradient instead of through a [B, 3H] one. It saves
 * one copy per step on the wasm backend, which measured as nothing, and on WebGPU it turned 64
 * fused copies into 192 unfused ones: 8 more dispatches per training step.)
 */
import { addInto, assign, empty, slice, type Tensor } from '@wgru/tensor';
import type { Variable } from './variable.js';

/** `grad` placed at `begin` (of extent `size`) in a tensor of zeros: the gradient of a slice. */
export interface Placed {
  readonly kind: 'placed';
  readonly begin: readonly number[];
  readonly size: readonly number[];
  readonly grad: Tensor;
}

/** `g` placed at `begin` in zeros of the input's shape, kept sparse. */
export function placed(g: Tensor, begin: readonly number[], size: readonly number[]): Placed {
  return { kind: 'placed', begin, size, grad: g };
}

/** Whether blocks cover a tensor of `size` elements exactly once (pairwise disjoint boxes). */
function tiles(blocks: readonly Placed[], size: number): boolean {
  let volume = 0;
  for (const b of blocks) volume += b.size.reduce((m, d) => m * d, 1);
  if (volume !== size) return false;
  for (let i = 0; i < blocks.length; i++) {
    const a = blocks[i] as Placed;
    for (let j = i + 1; j < blocks.length; j++) {
      const b = blocks[j] as Placed;
      let apart = false;
      for (let k = 0; k < a.begin.length && !apart; k++) {
        const a0 = a.begin[k] as number;
        const b0 = b.begin[k] as number;
        apart = a0 + (a.size[k] as number) <= b0 || b0 + (b.size[k] as number) <= a0;
      }
      if (!apart) return false;
    }
  }
  return true;
}

/**
 * The dense part (or zeros) with every block added into place. Blocks that tile the tensor (the
 * gates of a [B, 3H] matrix, the timesteps of a [T, B, G] projection) are copied straight into a
 * fresh buffer, with no zero fill.
 */
export function placeBlocks(blocks: readonly Placed[], dense: Tensor | null, like: Variable): Tensor {
  // A fresh buffer: the dense part may share storage with another gradient (rules pass `g` on).
  const base = empty(like.value.backend, like.shape, like.dtype);
  const copy = dense === null && tiles(blocks, like.size);
  if (!copy) assign(base, dense ?? 0);
  dense?.dispose();
  for (const b of blocks) {
    const region = slice(base, [...b.begin], [...b.size]);
    if (copy) assign(region, b.grad);
    else addInto(region, b.grad);
    region.dispose();
    b.grad.dispose();
  }
  return base;
}
