/**
 * `pnpm example <name> [--steps N] [--backend webgpu|cpu] [--out DIR] [--seed N]`: runs one
 * example; with no name, lists them.
 * @module
 */
import { join, resolve } from 'node:path';
import { shutdown } from '@wgru/tensor';
import { examples } from './index.js';
import { parseArgs } from './lib/args.js';

const USAGE = `usage: pnpm example <name> [--steps N] [--backend webgpu|cpu] [--out DIR] [--seed N] [--quiet]

  --steps N      training steps (each example has its own default)
  --backend B    webgpu or cpu (default: WebGPU when an adapter exists, else cpu)
  --out DIR      where checkpoints (.safetensors) and plots (.svg) go (default out/<name>)
  --seed N       seed for weights and data (default 0)
  --quiet        print nothing while training`;

function listing(): string {
  const width = Math.max(...Object.keys(examples).map((n) => n.length));
  const lines = Object.values(examples).map(({ about }) => `  ${about.name.padEnd(width)}  ${about.description} (default ${about.defaultSteps} steps)`);
  return `${USAGE}\n\nexamples:\n${lines.join('\n')}`;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`example: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help || parsed.name === undefined) {
    console.log(listing());
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
    console.log(`${parsed.name}: ${Object.entries(metrics).map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`).join(', ')}`);
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
