/**
 * Command-line parsing for `pnpm example <name> [options]`: a handful of options, each checked,
 * and an Error with a clear message for anything unknown or malformed.
 * @module
 */

/** The options every example accepts. */
export interface ExampleOptions {
  /** Training steps (each example has its own default). */
  steps?: number;
  /** 'webgpu' or 'cpu' (default: WebGPU when an adapter exists, else the CPU backend). */
  backend?: 'webgpu' | 'cpu';
  /** Where checkpoints and plots go (default `out/<name>`). */
  out?: string;
  /** Seed for weights and data (default 0). */
  seed?: number;
  /** Print nothing (tests). */
  quiet?: boolean;
}

/** What `parseArgs` found: an example name (or none) and its options. */
export interface ParsedArgs {
  name: string | undefined;
  options: ExampleOptions;
  help: boolean;
}

const VALUE_OPTIONS = ['steps', 'backend', 'out', 'seed'] as const;
type ValueOption = (typeof VALUE_OPTIONS)[number];

function isValueOption(s: string): s is ValueOption {
  return (VALUE_OPTIONS as readonly string[]).includes(s);
}

function integer(option: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`--${option} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got '${text}'`);
  }
  return n;
}

/**
 * Parses `[name] [--steps N] [--backend webgpu|cpu] [--out DIR] [--seed N] [--quiet] [--help]`.
 * `--option=value` works too.
 * @throws Error naming the offending argument.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options: ExampleOptions = {};
  let name: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') continue; // pnpm may pass one through
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--quiet') {
      options.quiet = true;
      continue;
    }
    if (arg.startsWith('-')) {
      const [flag, inline] = arg.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
      if (!isValueOption(flag)) throw new Error(`unknown option '${arg}' (options: --steps N, --backend webgpu|cpu, --out DIR, --seed N, --quiet)`);
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new Error(`--${flag} needs a value`);
      if (flag === 'steps') options.steps = integer(flag, value, 1);
      else if (flag === 'seed') options.seed = integer(flag, value, 0);
      else if (flag === 'out') options.out = value;
      else if (value === 'webgpu' || value === 'cpu') options.backend = value;
      else throw new Error(`--backend must be 'webgpu' or 'cpu', got '${value}'`);
      continue;
    }
    if (name !== undefined) throw new Error(`unexpected argument '${arg}' (one example name at a time; '${name}' was given first)`);
    name = arg;
  }
  return { name, options, help };
}
