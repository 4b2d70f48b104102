/**
 * Anomaly mode: names the first op that produced a NaN or an Infinity, in the forward pass (an
 * op's output) or in backward (the gradient a VJP handed to one of its inputs). Off by default:
 * when on, every op costs one extra elementwise kernel and one reduction.
 *
 * How the answer reaches you depends on the backend, since only the CPU can read a value back
 * without waiting:
 *
 * - CPU: each count is read at once, and the offending op throws where it runs.
 * - WebGPU: each op's count of non-finite values is written into a small device buffer (no sync,
 *   no read), and the first host read, `await checkAnomalies()` or a Variable's `item()` /
 *   `data()`, reads them all in recording order and throws for the first op with a non-zero count.
 *
 * See {@link setAnomalyDetection} for an example.
 */
import * as T from '@wgru/tensor';
import { type Backend, CpuStorage, shapeString, type Tensor } from '@wgru/tensor';

let enabled = false;

/**
 * Turns anomaly mode on or off (off by default). Turning it off keeps pending checks.
 *
 * @example
 * ```ts
 * setAnomalyDetection(true);
 * try {
 *   const x = variable([1, 0], { requiresGrad: true });
 *   const y = x.log().sum();             // log(0) = −Infinity
 *   y.backward();
 *   await y.item();                      // on WebGPU, the first read reports it
 * } catch (e) {
 *   console.log((e as Error).message);   // anomaly: forward of log produced 1 non-finite value ...
 * } finally {
 *   setAnomalyDetection(false);
 * }
 * ```
 */
export function setAnomalyDetection(on: boolean): void {
  if (typeof on !== 'boolean') throw new Error(`setAnomalyDetection: expected true or false, got ${String(on)}`);
  enabled = on;
}

export function isAnomalyDetectionEnabled(): boolean {
  return enabled;
}

/** What one recorded count is about: the error message, given the count. */
type Probe = (count: number) => string;

/** Counts of non-finite values, one slot per probe, kept on the device until checked. */
interface Block {
  backend: Backend;
  counts: Tensor;
  probes: Probe[];
}

const BLOCK = 1024;
const pending: Block[] = [];

/** How many elements of `t` are NaN or ±Infinity, as a 0-d float32 tensor (two kernels, no read). */
function nonFiniteCount(t: Tensor): Tensor {
  const flags = T.elementwise('anomaly', [t], ([x]) =>
    T.binaryExpr('add', T.unaryExpr('isnan', x as T.Expr), T.unaryExpr('isinf', x as T.Expr)),
  );
  const count = T.sum(flags);
  flags.dispose();
  return count;
}

const plural = (n: number): string => `${n} non-finite value${n === 1 ? '' : 's'} (NaN or Infinity)`;

/**
 * Checks `t`, made by `probe`: throws now on the CPU, or records its count for `checkAnomalies`.
 */
function inspect(t: Tensor, probe: Probe): void {
  if (t.disposed || t.dtype === 'int32') return; // integers are always finite
  const count = nonFiniteCount(t);
  if (count.storage instanceof CpuStorage) {
    const n = count.storage.array[count.offset];
    count.dispose();
    if (n > 0) throw new Error(probe(n));
    return;
  }
  let block = pending[pending.length - 1];
  if (block === undefined || block.backend !== t.backend || block.probes.length === BLOCK) {
    const counts = T.keep(T.empty(t.backend, [BLOCK], 'float32')); // outlives any tidy scope
    T.assign(counts, 0);
    block = { backend: t.backend, counts, probes: [] };
    pending.push(block);
  }
  const slot = T.slice(block.counts, [block.probes.length], [1]);
  T.assign(slot, count);
  slot.dispose();
  count.dispose();
  block.probes.push(probe);
}

/** @internal The forward hook (in `apply`): checks an op's output. */
export function inspectOutput(op: string, value: Tensor): void {
  if (!enabled) return;
  inspect(
    value,
    (n) => `anomaly: forward of ${op} produced ${plural(n)} in its output of shape ${shapeString(value.shape)}`,
  );
}

/** @internal The backward hook: checks the gradient that `op`'s VJP gave its input `index`. */
export function inspectGradient(op: string, outputShape: readonly number[], index: number, grad: Tensor): void {
  if (!enabled) return;
  const shape = shapeString(grad.shape);
  inspect(
    grad,
    (n) =>
      `anomaly: backward of ${op} produced ${plural(n)} in the gradient for its input ${index} (shape ${shape}; the op's output has shape ${shapeString(outputShape)})`,
  );
}

/** Whether counts recorded on an asynchronous backend are waiting to be read. */
export function hasPendingAnomalies(): boolean {
  return pending.length > 0;
}

/**
 * Reads every count recorded so far (WebGPU), in the order the ops ran, and throws an Error
 * naming the first op, forward or backward, that produced a NaN or an Infinity. Resolves quietly
 * when there was none. Each call checks only what was recorded since the previous one.
 */
export async function checkAnomalies(): Promise<void> {
  const blocks = pending.splice(0);
  let message: string | null = null;
  try {
    for (const b of blocks) {
      const counts = await b.counts.data();
      const k = b.probes.findIndex((_, i) => counts[i] !== 0);
      if (k >= 0) {
        message = (b.probes[k] as Probe)(counts[k]);
        break;
      }
    }
  } finally {
    for (const b of blocks) b.counts.dispose();
  }
  if (message !== null) throw new Error(message);
}
