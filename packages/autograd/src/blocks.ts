/**
 * Sparse slices (rewrite 2 of ./accumulate.ts): the gradient of a slice is its `g` placed in a
 * block of zeros. The block stays sparse until the gradient it belongs to is complete, and is
 * then written into place with the others. Here: the block, how blocks pass through views, and
 * how they are written.
 *
 * **Blocks through views.** A GRU step reads its input projection as
 * `projected.slice([t, 0, 0], [1, B, 3H]).reshape([B, 3H])` and then slices the gates from that.
 * The gates' blocks need not be written into a [B, 3H] buffer first and that buffer placed into
 * [T, B, 3H] after: a slice's blocks are blocks of its input at shifted offsets, and a reshape
 * that only adds or drops unit axes moves them unchanged. So the blocks go straight to the
 * [T, B, 3H] gradient, and neither rule runs: one copy and one buffer fewer per step.
 */
import { addInto, assign, empty, reshape, slice, type Tensor } from '@wgru/tensor';
import type { Node } from './graph.js';
import type { Variable } from './variable.js';
import type { PrimitiveAttrs } from './vjp.js';

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

/**
 * The blocks of a view's gradient as blocks of its input's (taking over their tensors), or null
 * where the view is not one they pass through: a slice, or a reshape that only adds or drops
 * unit axes.
 */
export function throughView(node: Node, out: Variable, blocks: readonly Placed[]): Placed[] | null {
  if (node.op === 'slice') {
    const at = (node.attrs as PrimitiveAttrs['slice']).begin;
    return blocks.map((b) =>
      placed(
        b.grad,
        b.begin.map((b0, k) => b0 + (at[k] as number)),
        b.size,
      ),
    );
  }
  if (node.op !== 'reshape') return null;
  const axes = unitAxesOnly((node.inputs[0] as Variable).shape, out.shape);
  if (axes === null) return null;
  return blocks.map((b) => {
    const size = axes.map((k) => (k < 0 ? 1 : (b.size[k] as number)));
    const grad = reshape(b.grad, size);
    b.grad.dispose();
    return placed(
      grad,
      axes.map((k) => (k < 0 ? 0 : (b.begin[k] as number))),
      size,
    );
  });
}

/**
 * For a reshape from `from` to `to` that only adds or drops axes of extent 1: for each axis of
 * `from`, the axis of `to` it is (-1 for a unit axis of its own). Null for any other reshape.
 */
function unitAxesOnly(from: readonly number[], to: readonly number[]): number[] | null {
  const axes: number[] = [];
  let j = 0;
  for (const d of from) {
    if (d === 1) {
      axes.push(-1);
      continue;
    }
    while (to[j] === 1) j++;
    if (to[j] !== d) return null;
    axes.push(j++);
  }
  while (to[j] === 1) j++;
  return j === to.length ? axes : null;
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
