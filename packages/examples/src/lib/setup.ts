/**
 * What every example does around its training loop: pick the backend, seed, make the output
 * folder, save checkpoints and plots, and say where they went.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Module, saveSafetensors } from '@wgru/nn';
import { backend, manualSeed, setBackend } from '@wgru/tensor';
import type { ExampleOptions } from './args.js';

/** What an example's `run` returns: the files it wrote and its headline figures. */
export interface ExampleResult {
  files: string[];
  metrics: Record<string, number>;
}

/** The context an example runs in. */
export interface ExampleContext {
  out: string;
  seed: number;
  steps: number;
  quiet: boolean;
  /** `--checkpoint-every`: save a resumable checkpoint every this many steps (see checkpoint.ts). */
  checkpointEvery: number | undefined;
  /** `--resume`: go on from the last resumable checkpoint. */
  resume: boolean;
  /** Prints a line unless quiet. */
  log: (line: string) => void;
  /** Writes a text file (an SVG) into the output folder and returns its path. */
  writeText: (file: string, contents: string) => string;
  /** Saves a module's parameters as safetensors into the output folder and returns the path. */
  saveCheckpoint: (file: string, model: Module, metadata?: Record<string, string>) => Promise<string>;
}

/** Picks the backend, seeds the random streams and creates the output folder. */
export async function setup(name: string, opts: ExampleOptions, defaultSteps: number): Promise<ExampleContext> {
  const steps = opts.steps ?? defaultSteps;
  if (!Number.isSafeInteger(steps) || steps < 1)
    throw new Error(`${name}: steps must be a positive integer, got ${steps}`);
  if (opts.backend) await setBackend(opts.backend);
  const seed = opts.seed ?? 0;
  manualSeed(seed);
  const out = opts.out ?? join('out', name);
  mkdirSync(out, { recursive: true });
  const quiet = opts.quiet ?? false;
  const log = (line: string): void => {
    if (!quiet) console.log(line);
  };
  const info = backend();
  log(
    `${name}: backend ` +
      `${info.name}${info.adapter ? ` (${info.adapter.description || info.adapter.vendor})` : ''}, seed ` +
      `${seed}, output in ${out}/`,
  );
  return {
    out,
    seed,
    steps,
    quiet,
    checkpointEvery: opts.checkpointEvery,
    resume: opts.resume ?? false,
    log,
    writeText: (file, contents) => {
      const path = join(out, file);
      writeFileSync(path, contents);
      return path;
    },
    saveCheckpoint: async (file, model, metadata) => {
      const path = join(out, file);
      writeFileSync(path, await saveSafetensors(model.stateDict(), metadata));
      return path;
    },
  };
}

/** A seeded random number generator in [0, 1) whose state can be saved and restored (checkpoints). */
export interface Rng {
  (): number;
  /** The whole state: assign a saved value to continue the same sequence. */
  state: number;
}

/** A small seeded random number generator (mulberry32) for data, in [0, 1). */
export function rng(seed: number): Rng {
  let a = (seed + 0x9e3779b9) >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  Object.defineProperty(next, 'state', {
    get: () => a,
    set: (value: number) => {
      a = value >>> 0;
    },
  });
  return next;
}
