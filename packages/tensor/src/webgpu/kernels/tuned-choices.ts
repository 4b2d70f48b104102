/**
 * The autotuner's families besides matmul (tuner.ts), as the backend asks for them:
 *
 * - `tunedFusedKernel`: the workgroup size of a fused elementwise kernel (64 built in; 32, 128,
 *   256 tried). Each invocation computes one element with the same expression whatever the size,
 *   so every candidate gives the same result bit for bit.
 * - `reduceStrategy`: one lane per output, or a workgroup per output (reduce.ts; the built-in choice
 *   is `reduceByWorkgroup`'s rule). A workgroup adds its lanes' partial results in another order
 *   than one lane walking the elements, so sums and products agree within float32 rounding;
 *   max, min, argmax and argmin agree exactly.
 *
 * Tests force a candidate with `elementwiseTuning.workgroup` and `reduceTuning.path`.
 *
 * ```ts
 * elementwiseTuning.workgroup = 256; // every fused kernel with 256 lanes per workgroup
 * ```
 */
import type { ReduceOp, View } from '../../backend.js';
import { type FusedKernel, fusedKernel, type MapCommand } from '../fusion.js';
import { grid1d } from './common.js';
import { reduceByWorkgroup, reduceKernel, reduceTuning, reduceWorkgroupKernel } from './reduce.js';
import { ELEMENTWISE_CHOICES, elementwiseClass, type KernelTuner, type REDUCE_CHOICES, reduceClass } from './tuner.js';

/**
 * Kernels over fewer elements (or a reduction over fewer in all) are not tuned: there a dispatch
 * costs its fixed overhead (30 to 90 us on the software adapters) whatever the choice, and timing
 * them measured only noise.
 */
const TUNED_FROM = 1 << 15;

/** Module state for tests and benchmarks. */
export const elementwiseTuning: {
  /** A workgroup size forced on every fused elementwise kernel (null: the tuner's, else 64). */
  workgroup: number | null;
  /** Called with the workgroup size of every fused kernel recorded (tests look at the choice). */
  onChoice: ((lanes: number) => void) | null;
} = { workgroup: null, onChoice: null };

type ElementwiseChoice = (typeof ELEMENTWISE_CHOICES)[number];
const lanes = (c: ElementwiseChoice): number => Number(c.slice(3));

/**
 * Fused kernel `k` (built by fusedKernel(group, needed)) as it runs: with the workgroup size forced,
 * else the tuner's for its class (n elements), and its workgroup counts. A first sight in 'full'
 * times k with each size up to the device's `maxLanes` (invocations per workgroup: 128 at the
 * compatibility level).
 */
export function tunedFusedKernel(
  tuner: KernelTuner,
  group: readonly MapCommand[],
  needed: readonly boolean[],
  k: FusedKernel,
  maxLanes: number,
): { kernel: FusedKernel; workgroups: [number, number, number] } {
  const wg = pickWorkgroup(tuner, group, needed, k, maxLanes);
  elementwiseTuning.onChoice?.(wg);
  return { kernel: wg === 64 ? k : fusedKernel(group, needed, wg), workgroups: grid1d(k.n, wg) };
}

function pickWorkgroup(
  tuner: KernelTuner,
  group: readonly MapCommand[],
  needed: readonly boolean[],
  k: FusedKernel,
  maxLanes: number,
): number {
  if (elementwiseTuning.workgroup !== null) return elementwiseTuning.workgroup;
  if (k.n < TUNED_FROM) return 64;
  const choices = ELEMENTWISE_CHOICES.filter((c) => lanes(c) <= maxLanes);
  const choice = tuner.pickVariant(elementwiseClass(k.n), choices, () => ({
    variants: choices.map((c) => {
      const wg = lanes(c);
      const v = wg === 64 ? k : fusedKernel(group, needed, wg);
      return { key: v.key, code: v.code, params: v.params, workgroups: grid1d(v.n, wg) };
    }),
    bufferBytes: k.buffers.map((b) => b.size),
  }));
  return lanes(choice);
}

/** A reduction's kernel and its dispatch size. */
export interface ReduceDispatch {
  k: { key: string; code: string; params: Int32Array; n: number };
  workgroups: [number, number, number];
}

type ReduceChoice = (typeof REDUCE_CHOICES)[number];

function reduceDispatch(
  strategy: ReduceChoice,
  op: ReduceOp,
  x: View,
  axes: readonly number[],
  out: View,
  subgroups: boolean,
): ReduceDispatch {
  if (strategy === 'workgroup') {
    const k = reduceWorkgroupKernel(op, x, axes, out, subgroups);
    return { k, workgroups: grid1d(k.n, 1) };
  }
  const k = reduceKernel(op, x, axes, out);
  return { k, workgroups: grid1d(k.n) };
}

/**
 * The kernel for a reduction: `reduceTuning.path` where forced, else the tuner's strategy for its
 * class (output count, reduced count, and whether the last reduced axis is contiguous), else the
 * built-in rule. `bytes` gives the sizes of out's and x's buffers (for timing on scratch buffers).
 */
export function reduceWithStrategy(
  tuner: KernelTuner,
  op: ReduceOp,
  x: View,
  axes: readonly number[],
  out: View,
  subgroups: boolean,
  bytes: [number, number],
): ReduceDispatch {
  const builtIn: ReduceChoice = reduceByWorkgroup(x, axes) ? 'workgroup' : 'lane';
  const nRed = axes.reduce((a, i) => a * x.shape[i], 1);
  const nOut = out.shape.reduce((a, d) => a * d, 1);
  if (reduceTuning.path !== 'auto' || nOut * nRed < TUNED_FROM)
    return reduceDispatch(builtIn, op, x, axes, out, subgroups);
  const choices: ReduceChoice[] = builtIn === 'lane' ? ['lane', 'workgroup'] : ['workgroup', 'lane'];
  const last = axes.at(-1);
  const contiguous = last === undefined || x.strides[last] === 1;
  const choice = tuner.pickVariant(reduceClass(nOut, nRed, contiguous), choices, () => ({
    variants: choices.map((c) => {
      const d = reduceDispatch(c, op, x, axes, out, subgroups);
      return { key: d.k.key, code: d.k.code, params: d.k.params, workgroups: d.workgroups };
    }),
    bufferBytes: bytes,
  }));
  return reduceDispatch(choice, op, x, axes, out, subgroups);
}
