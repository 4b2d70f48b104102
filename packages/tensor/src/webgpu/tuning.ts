/**
 * The autotuner's settings on a WebGPU backend: its mode (the `tuning` option of setBackend, else
 * `WGRU_TUNING`, else 'cached'), its budget (`WGRU_TUNING_BUDGET_MS`, else 1000), and the table
 * stored for the backend's adapter (tuning-cache.ts), loaded when a mode other than 'off' is set.
 */
import type { WebGpuBackend } from './backend.js';
import {
  DEFAULT_BUDGET_MS,
  TUNING_MODES,
  type TuningLogEntry,
  type TuningMode,
  type TuningTable,
} from './kernels/tuner.js';
import { adapterKey, cacheLocation, loadTable, saveTable } from './tuning-cache.js';

const env = (name: string): string | undefined =>
  typeof process !== 'undefined' ? process.env?.[name] || undefined : undefined;

/** `WGRU_TUNING`, checked (undefined where unset). */
export function envTuning(): TuningMode | undefined {
  const v = env('WGRU_TUNING');
  if (v === undefined) return undefined;
  if (!TUNING_MODES.includes(v as TuningMode))
    throw new Error(`WGRU_TUNING must be one of ${TUNING_MODES.join(', ')}, got '${v}'`);
  return v as TuningMode;
}

/** `WGRU_TUNING_BUDGET_MS`, checked, else the default (1 s). */
export function envBudgetMs(): number {
  const v = env('WGRU_TUNING_BUDGET_MS');
  if (v === undefined) return DEFAULT_BUDGET_MS;
  const ms = Number(v);
  if (!(ms >= 0)) throw new Error(`WGRU_TUNING_BUDGET_MS must be a number of milliseconds >= 0, got '${v}'`);
  return ms;
}

/** Checks setBackend's `tuning` option (a bad one is named in the error). */
export function checkTuningOption(mode: unknown): asserts mode is TuningMode | undefined {
  if (mode !== undefined && !TUNING_MODES.includes(mode as TuningMode))
    throw new Error(
      `setBackend: option 'tuning' must be one of ${TUNING_MODES.join(', ')}, got ${JSON.stringify(mode)}`,
    );
}

/** Sets a WebGPU backend's tuning mode, loading its adapter's stored table the first time. */
export async function applyTuning(b: WebGpuBackend, mode: TuningMode): Promise<void> {
  const tuner = b.tuner;
  tuner.budgetMs = envBudgetMs();
  if (mode !== 'off' && !tuner.onTuned && b.info.adapter) {
    const key = adapterKey(b.info.adapter);
    tuner.table = { ...(await loadTable(key)), ...tuner.table };
    tuner.onTuned = (table) => saveTable(key, table);
  }
  tuner.mode = mode;
  await tuner.prepare();
}

/** The WebGPU autotuner's state: see `tuning()` in registry.ts. */
export interface TuningState {
  mode: TuningMode;
  /** The adapter's key in the stored tables ('' without a WebGPU backend). */
  adapter: string;
  /** Where the tables are stored (a file in Node, localStorage in a browser). */
  store: string;
  /** The fastest choice per shape class (matmul plans, elementwise workgroup sizes, reduction strategies). */
  table: TuningTable;
  /** Tuning's wall time in this process, all steps; the part on the calling thread; the budget. */
  spentMs: number;
  threadMs: number;
  budgetMs: number;
  /**
   * The budget's accounting (kernels/tuning-budget.ts): synchronous starts that ran past the
   * deadline (charged, in spentMs too), steps abandoned at the deadline, and how long after its
   * deadline the last abandoned piece of driver work ended (not charged: nothing waited for it).
   */
  overrunMs: number;
  abandoned: number;
  afterDeadlineMs: number;
  /** Each class timed in this process: its candidates' times, compile and warm-up times. */
  log: TuningLogEntry[];
}

/** The state of a backend's tuner, once the tunings under way have finished. */
export async function tuningState(b: WebGpuBackend | null): Promise<TuningState> {
  if (!b)
    return {
      mode: 'off',
      adapter: '',
      store: cacheLocation(),
      table: {},
      spentMs: 0,
      threadMs: 0,
      budgetMs: 0,
      overrunMs: 0,
      abandoned: 0,
      afterDeadlineMs: 0,
      log: [],
    };
  const t = b.tuner;
  await t.idle();
  return {
    mode: t.mode,
    adapter: b.info.adapter ? adapterKey(b.info.adapter) : '',
    store: cacheLocation(),
    table: { ...t.table },
    spentMs: t.budget.spentMs,
    threadMs: t.budget.threadMs,
    budgetMs: t.budgetMs,
    overrunMs: t.budget.overrunMs,
    abandoned: t.budget.abandoned,
    afterDeadlineMs: t.budget.afterDeadlineMs,
    log: [...t.log],
  };
}
