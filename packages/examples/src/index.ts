/**
 * @wgru/examples: small GRU tasks (a toy, language modelling, forecasting, seq2seq), trained end
 * to end. Each example is one file under
 * ./examples that reads top to bottom and exports `about` (name, description, default steps) and
 * `run(options)`; `pnpm example <name>` runs one from the command line.
 *
 * @example
 * ```ts
 * import { examples } from '@wgru/examples';
 * const { metrics, files } = await examples.hi.run({ steps: 100, backend: 'cpu' });
 * ```
 * @packageDocumentation
 */
import * as charlm from './examples/charlm.js';
import * as compare from './examples/compare.js';
import * as dependency from './examples/dependency.js';
import * as forecast from './examples/forecast.js';
import * as gates from './examples/gates.js';
import * as hi from './examples/hi.js';
import * as seq2seq from './examples/seq2seq.js';
import type { ExampleOptions } from './lib/args.js';
import type { ExampleResult } from './lib/setup.js';

export type { ExampleOptions } from './lib/args.js';
export type { ExampleResult } from './lib/setup.js';

/** One runnable example. */
export interface Example {
  about: { name: string; description: string; defaultSteps: number };
  run: (opts?: ExampleOptions) => Promise<ExampleResult>;
}

/** Every example by name, in the order the CLI lists them. */
export const examples: Record<string, Example> = { hi, charlm, forecast, seq2seq, gates, compare, dependency };
