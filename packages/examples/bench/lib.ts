/**
 * Shared pieces of `pnpm bench`: what a benchmark is, timing (warm-up, then the median of several
 * runs), TensorFlow.js on the same Dawn adapter, and table printing.
 * @module
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** Options every benchmark receives (from the command line). */
export interface BenchOptions {
  /** Fewer sizes and repetitions: a smoke run while developing. */
  quick: boolean;
  /** Leave TensorFlow.js out (it is only a dev dependency of this package). */
  noTfjs: boolean;
  /** Extra `--key=value` arguments, for benchmark-specific settings. */
  args: Record<string, string>;
  /** Prints a progress line to stderr (kept out of stdout, which holds the tables or the JSON). */
  log: (line: string) => void;
}

/** A printable result: a titled table plus the raw figures for `--json`. */
export interface BenchResult {
  title: string;
  columns: string[];
  rows: string[][];
  notes: string[];
  data: unknown;
}

/** One benchmark of the suite; each lives in its own `*.bench.ts` file and is listed in index.ts. */
export interface Benchmark {
  name: string;
  description: string;
  run(opts: BenchOptions): Promise<BenchResult>;
}

export interface Timing {
  /** Median wall time of one run, in milliseconds. */
  ms: number;
  runs: number[];
}

export interface TimeOptions {
  /** Untimed runs of each function first (compilation, caches). */
  warmup?: number;
  /**
   * And keep warming up until this much time has passed (per function): a JavaScript engine
   * optimises hot code on background threads, over time rather than over a count of runs.
   */
  warmupMs?: number;
  minRuns?: number;
  maxRuns?: number;
  /** Stop adding rounds once this much time has been spent (after minRuns). */
  budgetMs?: number;
  /**
   * A full garbage collection and a short pause before each timed run (the default), so that what
   * one function leaves behind is not timed as part of the next; false times the runs back to
   * back, warm, as pytorch_bench.py times PyTorch's.
   */
  settle?: boolean;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** The pause before each timed run (see timeSideBySide). */
const SETTLE_MS = 30;

/**
 * Times several functions side by side: after `warmup` untimed runs of each, rounds in which each
 * runs once, so that a load that comes and goes on a shared machine hits all of them alike. Each
 * function must include a read of its result, so that device work is really waited for. Reports
 * the median per function.
 *
 * wgru's functions and TensorFlow.js's (keys containing 'tfjs') are timed in two rotations, one
 * after the other, in this one run: in a common rotation, tfjs's WebGPU backend left work behind
 * that slowed whichever wgru function ran next (generation with a host read per token went from
 * ~0.8 to ~2 ms/token; a training step at B=32 from ~190 to ~300 ms), which no pause removed.
 */
export async function timeSideBySide<K>(
  fns: ReadonlyMap<K, () => Promise<void>>,
  opts: TimeOptions = {},
): Promise<Map<K, Timing>> {
  const isTfjs = (k: K) => String(k).includes('tfjs');
  const ours = new Map([...fns].filter(([k]) => !isTfjs(k)));
  const theirs = new Map([...fns].filter(([k]) => isTfjs(k)));
  return new Map([...(await rotation(ours, opts)), ...(await rotation(theirs, opts))]);
}

async function rotation<K>(fns: ReadonlyMap<K, () => Promise<void>>, opts: TimeOptions): Promise<Map<K, Timing>> {
  const { warmup = 2, warmupMs = 0, minRuns = 3, maxRuns = 15, budgetMs = 1500, settle = true } = opts;
  for (const fn of fns.values()) {
    const start = performance.now();
    for (let i = 0; i < warmup || performance.now() - start < warmupMs; i++) await fn();
  }
  const runs = new Map<K, number[]>([...fns.keys()].map((k) => [k, []]));
  const start = performance.now();
  const entries = [...fns];
  for (let r = 0; r < maxRuns && (r < minRuns || performance.now() - start < budgetMs); r++) {
    // Each round starts one function later, and each run starts after a full garbage collection
    // (pnpm bench runs node with --expose-gc) and a short pause: what one function leaves behind
    // is not timed as part of the next.
    for (let j = 0; j < entries.length; j++) {
      const [k, fn] = entries[(r + j) % entries.length] as [K, () => Promise<void>];
      if (settle) {
        (globalThis as { gc?: () => void }).gc?.();
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      }
      const t0 = performance.now();
      await fn();
      runs.get(k)?.push(performance.now() - t0);
    }
  }
  return new Map([...runs].map(([k, xs]) => [k, { ms: median(xs), runs: xs }]));
}

/** The slice of the TensorFlow.js API the benchmarks use. */
export type Tf = typeof import('@tensorflow/tfjs');

let tfPromise: Promise<Tf | null> | null = null;

/**
 * TensorFlow.js with its WebGPU backend running on Dawn in this process, on the same kind of
 * adapter wgru uses. Its WebGPU backend looks for `navigator.gpu`, so before it is imported Dawn's
 * WebGPU globals are copied onto globalThis and `navigator` is defined (Node 21+ has a getter-only
 * one, hence defineProperty). Returns null, with the reason logged, when it cannot be loaded.
 */
export function loadTfjs(log: (line: string) => void): Promise<Tf | null> {
  tfPromise ??= (async () => {
    try {
      // Dawn is a dependency of @wgru/tensor, not of this package: resolve it from there.
      const tensorEntry = import.meta.resolve('@wgru/tensor');
      const dawnPath = createRequire(tensorEntry).resolve('webgpu');
      const dawn = (await import(pathToFileURL(dawnPath).href)) as {
        create: (flags: string[]) => GPU;
        globals: Record<string, unknown>;
      };
      for (const [k, v] of Object.entries(dawn.globals)) {
        if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
      }
      // Kept reachable through navigator: a collected Dawn instance takes its devices down with it.
      const gpu = dawn.create([]);
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
      const tf = (await import('@tensorflow/tfjs')) as Tf;
      await import('@tensorflow/tfjs-backend-webgpu');
      return tf;
    } catch (e) {
      log(`TensorFlow.js could not be loaded (${(e as Error).message}); its columns are left out.`);
      return null;
    }
  })();
  return tfPromise;
}

/** Switches TensorFlow.js to `name` ('webgpu' or 'cpu'); false if that backend cannot start. */
export async function tfBackend(tf: Tf, name: 'webgpu' | 'cpu'): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** Renders a result as an aligned text table. */
export function formatTable(r: BenchResult): string {
  const widths = r.columns.map((c, i) => Math.max(c.length, ...r.rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [r.title, '', line(r.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...r.rows.map(line)];
  if (r.notes.length) out.push('', ...r.notes);
  return out.join('\n');
}

/** A number with `digits` decimals, or a dash when missing. */
export function fmt(x: number | undefined | null, digits = 2): string {
  return x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}
