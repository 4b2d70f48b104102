/**
 * The arguments of `Variable.backward`, and what retaining graphs costs. `backward()` takes a seed
 * gradient and options, `backward(gradient, { retainGraph })`, or the options alone,
 * `backward({ retainGraph: true })`, as PyTorch's `loss.backward(retain_graph=True)` reads.
 *
 * A retained graph keeps every intermediate value until the Variables holding it become
 * unreachable and the garbage collector's finalizer frees them, at a time no one controls. A
 * training loop that retains every step's graph therefore grows `liveTensors` step after step:
 * `noteRetained` warns once, on stderr, when it sees that.
 * @module
 */
import { assign, cast, empty, memory, shapeString, Tensor } from '@wgru/tensor';
import type { BackwardOptions } from './graph.js';

const KNOWN = new Set(['retainGraph']);

function isOptions(x: unknown): x is BackwardOptions {
  return typeof x === 'object' && x !== null && !(x instanceof Tensor) && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

function checkOptions(opts: BackwardOptions): BackwardOptions {
  for (const k of Object.keys(opts))
    if (!KNOWN.has(k)) throw new Error(`backward: unknown option '${k}' (known: ${[...KNOWN].join(', ')})`);
  if (opts.retainGraph !== undefined && typeof opts.retainGraph !== 'boolean')
    throw new Error(`backward: retainGraph must be true or false, got ${String(opts.retainGraph)}`);
  return opts;
}

/**
 * `backward(gradient?, opts?)` or `backward(opts)`, read into a seed (or undefined) and options.
 * A seed that is neither a Tensor nor an options object is left for `backward` to reject.
 */
export function backwardArgs(first: unknown, second: unknown): { gradient: unknown; opts: BackwardOptions } {
  if (isOptions(first)) {
    if (second !== undefined)
      throw new Error('backward: options given twice; call backward(opts) or backward(gradient, opts)');
    return { gradient: undefined, opts: checkOptions(first) };
  }
  if (second !== undefined && !isOptions(second))
    throw new Error(`backward: opts must be an object like { retainGraph: true }, got ${typeof second}`);
  return { gradient: first, opts: checkOptions(second ?? {}) };
}

/** Consecutive retained backwards after which growing `liveTensors` is reported. */
export const RETAIN_WARN_AFTER = 10;

let streak: number[] = [];
let warned = false;

/**
 * Called after every `backward()`: counts consecutive `retainGraph: true` calls and, when the
 * live-tensor count grew at each of the last {@link RETAIN_WARN_AFTER}, writes one warning to
 * stderr (once per process). A backward that frees its graph ends the streak.
 */
export function noteRetained(retained: boolean): void {
  if (!retained || warned) {
    streak = [];
    return;
  }
  streak.push(memory().liveTensors);
  if (streak.length > RETAIN_WARN_AFTER) streak.shift();
  if (streak.length < RETAIN_WARN_AFTER || !streak.every((n, i) => i === 0 || n > streak[i - 1])) return;
  warned = true;
  const message =
    `wgru: backward({ retainGraph: true }) was called ${RETAIN_WARN_AFTER} times in a row and live tensors kept growing ` +
    `(${streak[0]} -> ${streak.at(-1)}, memory().liveTensors): every retained graph keeps its intermediate values until the ` +
    'garbage collector frees them. Retain a graph only for a second backward through it, and call that last backward() ' +
    'without retainGraph: it frees the graph.\n';
  if (typeof process !== 'undefined' && process.stderr?.write) process.stderr.write(message);
  else console.warn(message.trimEnd());
}

/** @internal For tests: forget the streak and whether the warning was given. */
export function resetRetainWatch(): void {
  streak = [];
  warned = false;
}

/**
 * The gradient backward starts from, for an output whose value is `out`: ones when none is given
 * (a one-element output only), else `gradient`, checked against the output's shape and backend and
 * converted to its dtype. A tensor made here is the caller's to dispose (it is not `gradient`).
 */
export function seedGradient(out: Tensor, gradient: unknown): Tensor {
  if (gradient === undefined) {
    if (out.size !== 1)
      throw new Error(`backward: gradient must be given for a non-scalar output of shape ${shapeString(out.shape)}`);
    const seed = empty(out.backend, out.shape, out.dtype);
    assign(seed, 1);
    return seed;
  }
  if (
    !(gradient instanceof Tensor) ||
    gradient.shape.length !== out.shape.length ||
    gradient.shape.some((d, i) => d !== out.shape[i])
  ) {
    throw new Error(
      `backward: gradient must be a Tensor of shape ${shapeString(out.shape)}, got ${gradient instanceof Tensor ? shapeString(gradient.shape) : typeof gradient}`,
    );
  }
  if (gradient.backend !== out.backend) {
    throw new Error(
      `backward: gradient is on the ${gradient.backend.info.name} backend, this Variable on ${out.backend.info.name}`,
    );
  }
  // The seed in the output's dtype (an int32 or float64 seed for a float32 output is converted).
  return gradient.dtype === out.dtype ? gradient : cast(gradient, out.dtype);
}
