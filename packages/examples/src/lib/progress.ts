/**
 * Training progress: a live bar (step, loss, tokens/s, ETA) when stdout is a terminal, plain lines
 * every few seconds otherwise (CI logs, `> file`), and nothing at all when quiet.
 * @module
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

/** What one update reports. */
export interface StepInfo {
  /** Training loss of this step (or a smoothed value). */
  loss: number;
  /** Tokens (characters, timesteps, ...) processed in this step, for tokens/s. */
  tokens?: number;
}

const fmt = (x: number): string =>
  Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(4)) : String(x);

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * A progress reporter for `total` steps. `log(line)` prints a line without breaking the bar.
 *
 * @example
 * ```ts
 * const progress = new Progress('charlm', 1000);
 * for (let step = 1; step <= 1000; step++) progress.update(step, { loss, tokens: 2048 });
 * progress.stop();
 * ```
 */
export class Progress {
  readonly #total: number;
  readonly #quiet: boolean;
  readonly #multi: MultiBar | null = null;
  readonly #bar: SingleBar | null = null;
  readonly #start = performance.now();
  #tokens = 0;
  #lastLine = 0;
  /** When the first step ended: the ETA leaves out the first step's warm-up (kernel compilation). */
  #firstStepAt = 0;

  constructor(
    readonly label: string,
    total: number,
    opts: { quiet?: boolean } = {},
  ) {
    this.#total = total;
    this.#quiet = opts.quiet ?? false;
    if (!this.#quiet && process.stdout.isTTY) {
      this.#multi = new MultiBar(
        {
          format: `${label} {bar} {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta_formatted}`,
          stream: process.stdout,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
        },
        Presets.shades_classic,
      );
      this.#bar = this.#multi.create(total, 0, { loss: '-', tps: '-' });
    }
  }

  /** Reports that `step` steps (1-based) are done. */
  update(step: number, info: StepInfo): void {
    this.#tokens += info.tokens ?? 0;
    if (this.#quiet) return;
    const elapsed = (performance.now() - this.#start) / 1000;
    const tps = this.#tokens / Math.max(elapsed, 1e-9);
    if (this.#bar) {
      this.#bar.update(step, { loss: fmt(info.loss), tps: Math.round(tps) });
      return;
    }
    // Not a terminal: a plain line at the first and last step and at most every 5 seconds between.
    if (step === 1) this.#firstStepAt = elapsed;
    if (step === 1 || step === this.#total || elapsed - this.#lastLine >= 5) {
      this.#lastLine = elapsed;
      const eta = step === 1 ? Number.NaN : ((elapsed - this.#firstStepAt) / (step - 1)) * (this.#total - step);
      console.log(
        `${this.label} step ${step}/${this.#total} | loss ${fmt(info.loss)} | ${Math.round(tps)} tok/s | ` +
          `${duration(elapsed)} elapsed, ETA ${duration(eta)}`,
      );
    }
  }

  /** Prints a line above the bar (or plainly). */
  log(line: string): void {
    if (this.#quiet) return;
    if (this.#multi) this.#multi.log(`${line}\n`);
    else console.log(line);
  }

  /** Seconds since the start. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Ends the bar; says how long training took. */
  stop(): void {
    this.#multi?.stop();
    if (!this.#quiet) console.log(`${this.label}: ${this.#total} steps in ${duration(this.elapsed)}`);
  }
}
