/**
 * `pnpm example <name> [--steps N] [--backend webgpu|cpu] [--out DIR] [--seed N] [--quiet]`: runs
 * one example; with no name (or `--help`), lists them. Exit code 2 for a command line it cannot use.
 * @module
 */
import { join, resolve } from 'node:path';
import { shutdown } from '@wgru/tensor';
import { examples } from './index.js';
import { type ParsedArgs, parseArgs, printHelp } from './lib/args.js';

const catalogue = Object.values(examples).map((e) => e.about);

async function main(): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`example: ${(e as Error).message} (see pnpm example --help)`);
    return 2;
  }
  if (parsed.help || parsed.name === undefined) {
    printHelp(catalogue);
    return 0;
  }
  const example = examples[parsed.name];
  if (!example) {
    console.error(`example: no example named '${parsed.name}' (known: ${Object.keys(examples).join(', ')})`);
    return 2;
  }
  // pnpm runs the script in packages/examples: put the output where the command was typed.
  const out = resolve(process.env.INIT_CWD ?? process.cwd(), parsed.options.out ?? join('out', parsed.name));
  const { metrics } = await example.run({ ...parsed.options, out });
  if (!parsed.options.quiet) {
    console.log(
      `${parsed.name}: ${Object.entries(metrics)
        .map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`)
        .join(', ')}`,
    );
  }
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
} finally {
  await shutdown();
}
process.exit(code);
