import type { Backend, BackendInfo, EngineStats } from './backend.js';
import { CpuBackend } from './cpu/backend.js';
import { liveTensorCount } from './tensor.js';
import {
  type AcquiredDevice,
  acquireDevice,
  type DeviceOptions,
  NO_ADAPTER_MESSAGE,
  OPTIONAL_FEATURES,
  type OptionalFeature,
  wantedFeatures,
} from './webgpu/device.js';
import type { WasmBackend } from './wasm/backend.js';
import { WebGpuBackend } from './webgpu/backend.js';
import type { TimedCandidates, TuningMode, TuningTable } from './webgpu/kernels/tuner.js';
import {
  applyTuning,
  checkTuningOption,
  envBudgetMs,
  envTuning,
  type TuningState,
  tuningState,
} from './webgpu/tuning.js';
import { adapterKey, loadTable, saveTable } from './webgpu/tuning-cache.js';
import { type KernelTime, KernelProfiler } from './webgpu/profiler.js';

/**
 * Which backend new tensors are made on. `setBackend` chooses explicitly; with no call, the first
 * use picks WebGPU when a hardware adapter exists (probed when this module loads) and the
 * WebAssembly backend otherwise (no adapter, or a software one: lavapipe, llvmpipe, SwiftShader),
 * and says which once on stderr. The float64 CPU backend is the oracle and never the default.
 * `WGRU_BACKEND=webgpu|wasm|cpu` forces the choice.
 */

let active: Backend | null = null;
let cpu: CpuBackend | null = null;
let gpu: WebGpuBackend | null = null;
let wasm: WasmBackend | null = null;
/** A device found by the probe at load time, not yet wrapped in a backend. */
let probed: AcquiredDevice | null = null;

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
const NAMES: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

function envChoice(): BackendName | undefined {
  const v = typeof process !== 'undefined' ? process.env?.WGRU_BACKEND : undefined;
  if (v === undefined || v === '') return undefined;
  if (!(NAMES as readonly string[]).includes(v))
    throw new Error(`WGRU_BACKEND must be 'webgpu', 'wasm' or 'cpu', got '${v}'`);
  return v as BackendName;
}

/** Probes for an adapter before first use (module load), so that the first use can stay synchronous. */
export async function probe(): Promise<void> {
  const forced = envChoice();
  if (forced === 'cpu') return;
  if (forced !== 'wasm') {
    try {
      probed = await acquireDevice();
      // The tuning of a first use without setBackend: the stored table is read now, while it can wait
      // (a bad WGRU_TUNING is named at that first use).
      const mode = tuningAtProbe();
      if (probed && mode !== 'off') probedTuning = { mode, table: await loadTable(adapterKey(probed.adapterInfo)) };
    } catch {
      probed = null;
    }
  }
  // The wasm backend (and binaryen, which builds its kernels) loads only where it will be used.
  if (forced === 'wasm' || !probed || isSoftwareAdapter(probed.adapterInfo)) await loadWasm();
}

/** `WGRU_TUNING`, else 'cached'; 'off' where it is invalid (activeBackend names it at first use). */
function tuningAtProbe(): TuningMode {
  try {
    return envTuning() ?? 'cached';
  } catch {
    return 'off';
  }
}

/** The tuning that the probed device's backend starts with (see probe). */
let probedTuning: { mode: TuningMode; table: TuningTable } | null = null;

function describe(b: Backend): string {
  const a = b.info.adapter;
  return a
    ? `${b.info.name} (${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}` +
        `${b.info.featureLevel === 'compatibility' ? ', compatibility' : ''})`
    : b.info.name;
}

/** The CPU backend (always available; the reference for the WebGPU kernels). */
export function cpuBackend(): CpuBackend {
  cpu ??= new CpuBackend();
  return cpu;
}

let wasmModule: typeof import('./wasm/backend.js') | null = null;

async function loadWasm(): Promise<void> {
  if (wasmModule) return;
  wasmModule = await import('./wasm/backend.js');
  await (await import('./wasm/threads/index.js')).loadThreads();
  await (await import('./wasm/v8-flags.js')).setWasmFlags();
}

/** The WebAssembly backend, once its module is loaded (by the probe or by setBackend('wasm')). */
function wasmBackend(): WasmBackend {
  if (!wasmModule) throw new Error("wgru: the wasm backend is not loaded yet; await setBackend('wasm') loads it");
  wasm ??= new wasmModule.WasmBackend();
  return wasm;
}

/** Whether an adapter is a software rasteriser (then the wasm backend is faster than it). */
export function isSoftwareAdapter(info: { vendor: string; architecture: string; description: string }): boolean {
  return /lavapipe|llvmpipe|swiftshader|software/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
}

/** The active backend, choosing one on first use. */
export function activeBackend(): Backend {
  if (active) return active;
  const forced = envChoice();
  // A misspelt WGRU_WEBGPU_FEATURES fails the probe; say so here rather than fall back to the CPU.
  if (forced === 'webgpu' || forced === undefined) wantedFeatures({});
  if (forced === 'webgpu' && !probed) throw new Error(`WGRU_BACKEND=webgpu: ${NO_ADAPTER_MESSAGE}`);
  const hardware = probed !== null && !isSoftwareAdapter(probed.adapterInfo);
  if (probed && (forced === 'webgpu' || (forced === undefined && hardware))) {
    envTuning(); // names a bad WGRU_TUNING
    gpu = new WebGpuBackend(probed);
    if (probedTuning) {
      const key = adapterKey(probed.adapterInfo);
      Object.assign(gpu.tuner, probedTuning, { budgetMs: envBudgetMs() });
      gpu.tuner.onTuned = (table) => saveTable(key, table);
      void gpu.tuner.prepare();
    }
    probed = null;
    active = gpu;
  } else if (forced === 'cpu') {
    active = cpuBackend();
  } else {
    active = wasmBackend();
  }
  if (typeof process !== 'undefined' && process.stderr?.write)
    process.stderr.write(`wgru: using ${describe(active)}\n`);
  else console.info(`wgru: using ${describe(active)}`);
  return active;
}

export interface SetBackendOptions extends DeviceOptions {
  /**
   * The WebGPU autotuner (matmul plans, elementwise workgroup sizes, reduction strategies, choices
   * made through tunedChoice): 'off' (the built-in choices), 'cached' (the fastest choices stored
   * by earlier runs on this adapter, else the built-in ones), 'full' (as 'cached', and time the
   * candidates of each new shape class, within a strict 1 s budget per process). Default: `WGRU_TUNING`,
   * else 'cached'. See docs/tuning.md.
   */
  tuning?: TuningMode;
}

/**
 * The WebGPU autotuner's state, once the tunings under way have finished: the mode, the adapter,
 * the fastest choice per shape class, and the time tuning took (see docs/tuning.md).
 *
 * @example
 * ```ts
 * const t = await tuning();
 * console.log(t.mode, Object.keys(t.table).length, `${t.spentMs.toFixed(0)} ms`);
 * ```
 */
export async function tuning(): Promise<TuningState> {
  return tuningState(active === gpu ? gpu : null);
}

/**
 * A choice between candidates that compute the same thing by different operations, tuned per
 * adapter like the kernels (docs/tuning.md): for a WebGPU backend, the choice stored for `key`
 * (e.g. 'gru|8|256|after'), else `choices[0]`, the built-in one; in 'full' tuning, a key seen for
 * the first time has its candidates timed (as `prepare()`'s `run(choice)` records them, on the
 * backend's own queue, within the tuning budget). Other backends get `choices[0]`. The layers
 * above use it for choices the tensor layer cannot see, such as @wgru/nn's fused GRU step.
 *
 * @example
 * ```ts
 * const x = uniform([8, 64], -1, 1);
 * const how = tunedChoice(x.backend, 'example|8x64', ['sum', 'mean-times-n'], () => ({
 *   run: (c) => (c === 'sum' ? sum(x) : mul(mean(x), 512)).dispose(),
 *   dispose: () => {},
 * }));
 * console.log(how); // 'sum', unless 'full' tuning found the other clearly faster here
 * ```
 */
export function tunedChoice<C extends string>(
  on: Backend,
  key: string,
  choices: readonly C[],
  prepare: () => TimedCandidates<C>,
): C {
  return on instanceof WebGpuBackend ? on.tuner.pickTimed(key, choices, prepare) : choices[0];
}

/**
 * Makes `name` the backend for new tensors. `'webgpu'` rejects with a clear message when no
 * adapter can be had; it never falls back silently. Calling it again after a device loss gets a
 * fresh device.
 *
 * @example
 * ```ts
 * const info = await setBackend('cpu');   // always available
 * console.log(info.name);                 // 'cpu'
 * try {
 *   const gpu = await setBackend('webgpu');
 *   console.log(gpu.adapter?.description); // e.g. 'NVIDIA GeForce ...', or 'llvmpipe' (software)
 * } catch (e) {
 *   console.log((e as Error).message);     // no adapter: says how to get one
 * }
 * ```
 */
export async function setBackend(name: BackendName, options: SetBackendOptions = {}): Promise<BackendInfo> {
  if (!NAMES.includes(name))
    throw new Error(`setBackend: name must be 'webgpu', 'wasm' or 'cpu', got ${JSON.stringify(name)}`);
  if (options === null || typeof options !== 'object') throw new Error('setBackend: options must be an object');
  for (const k of Object.keys(options)) {
    if (k !== 'powerPreference' && k !== 'optionalFeatures' && k !== 'tuning')
      throw new Error(`setBackend: unknown option '${k}'`);
  }
  checkTuningOption(options.tuning);
  const tuningMode = options.tuning ?? envTuning() ?? 'cached';
  if (options.optionalFeatures !== undefined) {
    if (!Array.isArray(options.optionalFeatures)) throw new Error('setBackend: optionalFeatures must be an array');
    for (const f of options.optionalFeatures) {
      if (!OPTIONAL_FEATURES.includes(f))
        throw new Error(
          `setBackend: unknown optional feature ${JSON.stringify(f)} (known: ${OPTIONAL_FEATURES.join(', ')})`,
        );
    }
  }
  if (name === 'cpu') {
    active = cpuBackend();
    return active.info;
  }
  if (name === 'wasm') {
    await loadWasm();
    active = wasmBackend();
    return active.info;
  }
  // A device with other optional features than asked for is replaced (its tensors with it).
  const asked = options.optionalFeatures;
  const sameFeatures = (requested: readonly OptionalFeature[]) =>
    asked === undefined || (asked.length === requested.length && asked.every((f) => requested.includes(f)));
  if (probed && !sameFeatures(probed.requested)) {
    probed.device.destroy();
    probed = null;
  }
  if (gpu && !gpu.engine.lost && !gpu.engine.broken && sameFeatures(gpu.requestedFeatures)) {
    active = gpu;
    await applyTuning(gpu, tuningMode);
    return gpu.info;
  }
  // A device whose batch failed validation cannot be trusted: give it up for a fresh one.
  if (gpu && !gpu.engine.lost) gpu.destroy();
  const acquired = probed ?? (await acquireDevice(options));
  probed = null;
  if (!acquired) throw new Error(NO_ADAPTER_MESSAGE);
  gpu = new WebGpuBackend(acquired);
  active = gpu;
  await applyTuning(gpu, tuningMode);
  return gpu.info;
}

/**
 * Runs `fn` with `b` as the active backend, then restores the previous one (synchronously).
 * For code that must create tensors on a particular backend, like gradcheck on the CPU.
 *
 * @example
 * ```ts
 * const t = withBackend(cpuBackend(), () => tensor([1, 2], undefined, 'float64'));   // float64 needs the CPU
 * t.backend.info.name;   // 'cpu', whichever backend is active
 * ```
 */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = active;
  active = b;
  try {
    return fn();
  } finally {
    active = prev;
  }
}

/** What the active backend is: name, adapter, feature level. */
export function backend(): BackendInfo {
  return activeBackend().info;
}

/**
 * Memory on the active backend: live tensors, bytes held by them, bytes kept in the pool.
 *
 * @example
 * ```ts
 * const before = memory().liveTensors;
 * const t = zeros([256, 256]);
 * memory().liveTensors - before;    // 1
 * t.dispose();
 * memory().liveTensors - before;    // 0 (its buffer is pooled for reuse)
 * ```
 */
export function memory(): { liveTensors: number; bytesInUse: number; bytesPooled: number } {
  const b = activeBackend();
  return { liveTensors: liveTensorCount(b), ...b.memory() };
}

/**
 * Engine counters of the active backend (dispatches, submits, uploads, reads, and on WebGPU the
 * bind groups made: a loop that repeats the same ops reuses them, so they stop growing).
 *
 * @example
 * ```ts
 * const before = engineStats().dispatches;
 * const y = sigmoid(add(mul(randn([64]), 2), 1));
 * flush();
 * engineStats().dispatches - before;   // on WebGPU, 2: randn, then one fused kernel for the rest
 * ```
 */
export function engineStats(): EngineStats {
  return { ...activeBackend().stats };
}

/**
 * Profiles the device time of every kernel `fn` runs on WebGPU, summed per op (timestamp
 * queries; each kernel then runs in a compute pass of its own, so compare ops within one
 * profile, not with unprofiled timings). Pending work is submitted before and after. Rejects
 * on the CPU backend and where the adapter has no 'timestamp-query' feature.
 *
 * @example
 * ```ts
 * if (backend().name === 'webgpu') {
 *   const { kernels } = await profileKernels(async () => {
 *     await matmul(randn([64, 64]), randn([64, 64])).data();
 *   });
 *   kernels[0]?.op;   // e.g. 'matmul' (or 'randn'): the most expensive op first
 * }
 * ```
 */
export async function profileKernels<T>(fn: () => Promise<T>): Promise<{ result: T; kernels: KernelTime[] }> {
  const b = activeBackend();
  if (!(b instanceof WebGpuBackend)) throw new Error('profileKernels: needs the WebGPU backend');
  if (!b.device.features.has('timestamp-query'))
    throw new Error("profileKernels: this adapter has no 'timestamp-query' feature");
  if (b.engine.profiler) throw new Error('profileKernels: already profiling');
  b.flush();
  const profiler = new KernelProfiler();
  b.engine.profiler = profiler;
  try {
    const result = await fn();
    b.flush();
    return { result, kernels: await profiler.results() };
  } finally {
    b.engine.profiler = null;
  }
}

/** Submits all pending work on the active backend without waiting for it. */
export function flush(): void {
  activeBackend().flush();
}

/** Destroys the WebGPU device (if any), so that a script can exit promptly. */
export function shutdown(): void {
  gpu?.destroy();
  gpu = null;
  if (active && active.info.name === 'webgpu') active = null;
}
