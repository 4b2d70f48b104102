/**
 * Resumable runs: `--checkpoint-every N` saves, every N steps, all a training loop needs to go on
 * as if it had never stopped, and `--resume` goes on from the last one. A run that is killed,
 * whose device is lost, or whose disk fills, loses only the steps since then.
 *
 * A checkpoint is two files in the output folder:
 * - `<name>.resume-<step>.safetensors`: the weights (`model.<model>.<parameter>`) and the
 *   optimizer state (`optim.<optimizer>.<index>.<name>`, see `Optimizer.stateDict()`);
 * - `<name>.resume.json`: the step, the random streams' states (the tensor stream that dropout
 *   draws from, and whatever the example keeps: its data stream, i.e. its position in the data),
 *   the optimizers' step counts and hyperparameters, the example's own loop state (curves, best
 *   so far), and the name of the safetensors file.
 *
 * Each file is written to a temporary name, flushed to disk, then renamed, and the JSON last: a
 * crash at any moment leaves the previous checkpoint whole, or the new one. (It may also leave a
 * temporary file or the previous tensors behind; the next save removes them.)
 *
 * @example
 * ```ts
 * const ckpt = new Checkpointer<{ losses: number[] }>(ctx.out, 'mine', { every: ctx.checkpointEvery, resume: ctx.resume });
 * const resumed = ckpt.resume({ model }, { opt });         // null on a fresh start
 * const losses = resumed?.state.losses ?? [];
 * for (let step = (resumed?.step ?? 0) + 1; step <= steps; step++) {
 *   // ... one training step ...
 *   if (ckpt.due(step)) await ckpt.save(step, { model }, { opt }, { losses });
 * }
 * ```
 * @module
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, type Module, type Optimizer, type OptimizerStateDict, saveSafetensors } from '@wgru/nn';
import { manualSeed, rngState, type Tensor } from '@wgru/tensor';

/** What the JSON file holds. */
interface Manifest<T> {
  format: 'wgru-resume-1';
  step: number;
  /** The safetensors file beside it. */
  tensors: string;
  /** The tensor stream's state (`rngState()`), for dropout and other unseeded draws. */
  rngState: number;
  /** Each optimizer's step counts and hyperparameters (its tensors are in the safetensors file). */
  optimizers: Record<string, Pick<OptimizerStateDict, 'steps' | 'hyper'>>;
  /** The example's own loop state. */
  state: T;
}

/** Where a resumed run goes on from. */
export interface Resumed<T> {
  /** The last step that was done. */
  step: number;
  state: T;
}

type Optimizers = Record<string, Optimizer<object>>;

/** Saves and loads an example's resumable checkpoints (see the module's doc). */
export class Checkpointer<T> {
  private readonly manifestPath: string;

  /**
   * @param dir the output folder
   * @param name the example's name (the files' prefix)
   * @param opts every: save every this many steps (none: never); resume: `resume()` loads the last checkpoint
   */
  constructor(
    readonly dir: string,
    readonly name: string,
    readonly opts: { every?: number; resume?: boolean },
  ) {
    this.manifestPath = join(dir, `${name}.resume.json`);
  }

  /** Whether a checkpoint is due after `step`. */
  due(step: number): boolean {
    return this.opts.every !== undefined && step % this.opts.every === 0;
  }

  /** The last checkpoint's step and loop state, without loading anything; null if resuming is off or there is none. */
  peek(): Resumed<T> | null {
    if (!this.opts.resume || !existsSync(this.manifestPath)) return null;
    const m = this.manifest();
    return { step: m.step, state: m.state };
  }

  /**
   * With `--resume` and a checkpoint on disk: loads the weights into `models` and the state into
   * `optimizers` (by the names they were saved under), restores the tensor random stream, and
   * returns the step and the loop state. Otherwise null, and nothing changes.
   * @throws Error naming the file when it does not match the models (another example, other sizes).
   */
  resume(models: Record<string, Module>, optimizers: Optimizers): Resumed<T> | null {
    const resumed = this.peek();
    if (resumed === null) return null;
    const m = this.manifest();
    const path = join(this.dir, m.tensors);
    const bytes = new Uint8Array(readFileSync(path));
    const all = loadSafetensors(bytes);
    try {
      for (const [name, model] of Object.entries(models)) model.loadStateDict(section(all, `model.${name}.`));
      for (const [name, opt] of Object.entries(optimizers)) {
        const saved = m.optimizers[name];
        if (saved === undefined) throw new Error(`no optimizer '${name}' in it`);
        opt.loadStateDict({ state: section(all, `optim.${name}.`), ...saved });
      }
    } catch (e) {
      throw new Error(`resume: ${path} does not fit this run: ${(e as Error).message}`, { cause: e });
    } finally {
      for (const t of Object.values(all)) t.dispose();
    }
    manualSeed(m.rngState);
    return resumed;
  }

  /**
   * Saves a checkpoint after `step`: weights, optimizer state, random streams and `state` (which
   * must survive JSON: numbers, including ±Infinity and NaN, arrays, plain objects; no strings
   * 'Infinity', '-Infinity' or 'NaN'). The previous one is removed once
   * the new one is complete.
   */
  async save(step: number, models: Record<string, Module>, optimizers: Optimizers, state: T): Promise<void> {
    const tensors: Record<string, Tensor> = {};
    const optimizerNumbers: Manifest<T>['optimizers'] = {};
    for (const [name, model] of Object.entries(models)) {
      for (const [key, t] of Object.entries(model.stateDict())) tensors[`model.${name}.${key}`] = t;
    }
    for (const [name, opt] of Object.entries(optimizers)) {
      const sd = opt.stateDict();
      for (const [key, t] of Object.entries(sd.state)) tensors[`optim.${name}.${key}`] = t;
      optimizerNumbers[name] = { steps: sd.steps, hyper: sd.hyper };
    }
    const file = `${this.name}.resume-${step}.safetensors`;
    writeAtomically(join(this.dir, file), await saveSafetensors(tensors, { step: String(step) }));
    const manifest: Manifest<T> = {
      format: 'wgru-resume-1',
      step,
      tensors: file,
      rngState: rngState(),
      optimizers: optimizerNumbers,
      state,
    };
    // Infinity and NaN (a best loss not yet known) are not JSON: kept as strings, read back as numbers.
    const json = JSON.stringify(manifest, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
    writeAtomically(this.manifestPath, `${json}\n`);
    // What earlier checkpoints left: their tensors, and the temporary files of a save cut short.
    const mine = new RegExp(`^${this.name}\\.resume(-\\d+\\.safetensors|\\.json)(\\.tmp-\\d+)?$`);
    for (const f of readdirSync(this.dir)) {
      if (mine.test(f) && f !== file && f !== `${this.name}.resume.json`) rmSync(join(this.dir, f), { force: true });
    }
  }

  private manifest(): Manifest<T> {
    const nonFinite = new Set(['Infinity', '-Infinity', 'NaN']);
    const m = JSON.parse(readFileSync(this.manifestPath, 'utf8'), (_, v) =>
      typeof v === 'string' && nonFinite.has(v) ? Number(v) : v,
    ) as Manifest<T>;
    if (m.format !== 'wgru-resume-1') throw new Error(`resume: ${this.manifestPath} is not a wgru checkpoint`);
    return m;
  }
}

/** The entries of `all` whose names start with `prefix`, without it. */
function section(all: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(all)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, t]) => [k.slice(prefix.length), t]),
  );
}

/** Writes `data` to a temporary file beside `path`, flushes it to disk, then renames it over `path`. */
function writeAtomically(path: string, data: Uint8Array | string): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
