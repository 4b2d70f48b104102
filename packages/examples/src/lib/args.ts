/**
 * The command line, `pnpm example <name> [options]`, declared with cac: cac parses, rejects
 * unknown options and missing values, and prints the help; this module checks the values.
 * @module
 */
import { type CAC, cac } from 'cac';

/** The options every example accepts. */
export interface ExampleOptions {
  /** Training steps (each example has its own default). */
  steps?: number;
  /** 'webgpu', 'wasm' or 'cpu' (default: WebGPU on a hardware adapter, else wasm). */
  backend?: 'webgpu' | 'wasm' | 'cpu';
  /** Where checkpoints and plots go (default `out/<name>`). */
  out?: string;
  /** Seed for weights and data (default 0). */
  seed?: number;
  /** Print nothing (tests). */
  quiet?: boolean;
  /** charlm: also write the trained model as an ONNX file here. */
  exportOnnx?: string;
  /** Save a resumable checkpoint every this many steps (the long examples; see lib/checkpoint.ts). */
  checkpointEvery?: number;
  /** Continue from the last resumable checkpoint in the output folder, if there is one. */
  resume?: boolean;
  /** `dependency` only: the distances (distractors) to sweep. */
  distances?: number[];
  /** `dependency` only: seeds per point. */
  seeds?: number;
}

/** What `parseArgs` found: an example name (or none), its options, and whether help was asked for. */
export interface ParsedArgs {
  name: string | undefined;
  options: ExampleOptions;
  help: boolean;
}

/** An example as the help lists it. */
export interface ExampleSummary {
  name: string;
  description: string;
  defaultSteps: number;
}

/** The command line's declaration; the help lists `catalogue` under "Examples". */
function program(catalogue: readonly ExampleSummary[] = []): CAC {
  const cli = cac('pnpm example')
    .usage('<name> [options]')
    .option('--steps <n>', 'training steps (each example has its own default)')
    .option('--backend <name>', 'webgpu, wasm or cpu (default: WebGPU on a hardware adapter, else wasm)')
    .option(
      '--out <dir>',
      'where checkpoints (.safetensors), plots (.svg) and figures (.json) go (default: out/<name>)',
    )
    .option('--seed <n>', 'seed for weights and data (default: 0)')
    .option('--quiet', 'print nothing while training')
    .option('--export-onnx <file>', 'charlm: write the trained model as an ONNX file (ONNX Runtime runs it)')
    .option('--checkpoint-every <n>', 'save a resumable checkpoint every n steps (charlm, seq2seq, forecast, compare)')
    .option('--resume', 'continue from the last resumable checkpoint in the output folder')
    .option('--distances <list>', 'dependency: distances to sweep, e.g. 5,10,20 (default: 5,10,20,50,100,200)')
    .option('--seeds <n>', 'dependency: seeds per point (default: 3)')
    .option('-h, --help', 'show this help');
  const width = Math.max(0, ...catalogue.map((e) => e.name.length));
  for (const e of catalogue) cli.example(`  ${e.name.padEnd(width)}  ${e.description} (${e.defaultSteps} steps)`);
  return cli;
}

/** Prints the usage, the options and the examples with one line each. */
export function printHelp(catalogue: readonly ExampleSummary[]): void {
  program(catalogue).outputHelp();
}

function integer(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new Error(
      `--${option} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got '${String(value)}'`,
    );
  }
  return value;
}

/**
 * Parses `[name] [--steps N] [--backend webgpu|wasm|cpu] [--out DIR] [--seed N] [--quiet] [--help]`
 * (`--option=value` works too).
 * @throws Error naming the offending argument.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const cli = program();
  // pnpm may pass a '--' through; the arguments after it are ours all the same.
  const parsed = cli.parse(['node', 'example', ...argv.filter((a) => a !== '--')], { run: false });
  const [args, raw]: [readonly string[], Record<string, unknown>] = [parsed.args, parsed.options];
  cli.globalCommand.checkOptionValue(); // '--out' with no value
  cli.globalCommand.checkUnknownOptions();
  for (const [key, value] of Object.entries(raw)) {
    if (key !== '--' && Array.isArray(value)) throw new Error(`--${key} given more than once`);
  }
  if (args.length > 1)
    throw new Error(`unexpected argument '${args[1]}' (one example name at a time; '${args[0]}' was given first)`);

  const options: ExampleOptions = {};
  if (raw.steps !== undefined) options.steps = integer('steps', raw.steps, 1);
  if (raw.seed !== undefined) options.seed = integer('seed', raw.seed, 0);
  if (raw.out !== undefined) options.out = String(raw.out);
  if (raw.backend !== undefined) {
    if (raw.backend !== 'webgpu' && raw.backend !== 'wasm' && raw.backend !== 'cpu')
      throw new Error(`--backend must be 'webgpu', 'wasm' or 'cpu', got '${String(raw.backend)}'`);
    options.backend = raw.backend;
  }
  if (raw.quiet === true) options.quiet = true;
  if (raw.exportOnnx !== undefined) options.exportOnnx = String(raw.exportOnnx);
  if (raw.checkpointEvery !== undefined) options.checkpointEvery = integer('checkpoint-every', raw.checkpointEvery, 1);
  if (raw.resume === true) options.resume = true;
  if (raw.seeds !== undefined) options.seeds = integer('seeds', raw.seeds, 1);
  if (raw.distances !== undefined) {
    const list = String(raw.distances).split(',');
    options.distances = list.map((d) => integer('distances', d.trim() === '' ? Number.NaN : Number(d), 1));
  }
  return { name: args[0], options, help: raw.help === true };
}
