import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '@wgru/nn';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachBackend, webgpuAvailable } from '../../../test-support/backends.js';
import { memory, setBackend } from '@wgru/tensor';
import { examples } from '../src/index.js';
import { parseArgs } from '../src/lib/args.js';
import { barChart, heatmap, lineChart } from '../src/lib/plots.js';
import { gradientFlow, hiddenSizeFor, KINDS, Recall, recallBatch } from '../src/lib/recall.js';
import { rng } from '../src/lib/setup.js';

// Every example runs briefly through its exported run(): it must finish, print its figures and
// leave its plots and checkpoint behind. The thresholds (validation loss, accuracy, forecast
// errors) are checked by longer runs, recorded in the issue; here only `hi` must fully converge.
// All of them run on WebGPU; on the CPU backend, whose matmuls are far slower, only the quick
// ones do, unless there is no WebGPU adapter (then every example runs on the CPU).

const dirs: string[] = [];
const outDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'wgru-examples-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Files each example must write, how many steps a smoke run takes, and whether it is quick on the CPU. */
const SMOKE: Record<
  string,
  { steps: number; files: string[]; quickOnCpu: boolean; options?: { distances: number[]; seeds: number } }
> = {
  hi: { steps: 100, files: ['loss.svg', 'hi.safetensors'], quickOnCpu: true },
  charlm: { steps: 2, files: ['loss.svg', 'charlm.safetensors'], quickOnCpu: true },
  forecast: {
    steps: 2,
    files: ['forecast.svg', 'one-step.svg', 'loss.svg', 'forecast.safetensors'],
    quickOnCpu: false,
  },
  seq2seq: { steps: 2, files: ['loss.svg', 'accuracy.svg', 'seq2seq.safetensors'], quickOnCpu: false },
  gates: { steps: 2, files: ['gates.svg', 'loss.svg', 'gates.safetensors'], quickOnCpu: true },
  compare: {
    steps: 2,
    files: [
      'loss.svg',
      'summary.svg',
      'compare.json',
      'compare-gru.safetensors',
      'compare-lstm.safetensors',
      'compare-rnn.safetensors',
    ],
    quickOnCpu: true,
  },
  dependency: {
    steps: 2,
    options: { distances: [3, 6], seeds: 1 },
    files: [
      'accuracy.svg',
      'steps-to-solve.svg',
      'gradient-flow.svg',
      'dependency.json',
      ...['RNN', 'GRU', 'GRU-reset-after', 'LSTM'].map((k) => `dependency-${k}-D6.safetensors`),
    ],
    quickOnCpu: true,
  },
};

/** Problems that make an SVG fail to open: an attribute given twice in one tag (invalid XML), NaN. */
function svgProblems(svg: string): string[] {
  const problems: string[] = [];
  if (!svg.startsWith('<svg')) problems.push('does not start with <svg');
  if (svg.includes('NaN')) problems.push('contains NaN');
  for (const [tag] of svg.matchAll(/<[a-zA-Z][^>]*>/g)) {
    const names = [...tag.matchAll(/\s([^\s=/>]+)="[^"]*"/g)].map((m) => m[1]);
    if (new Set(names).size !== names.length) problems.push(`attribute twice in ${tag.slice(0, 80)}`);
  }
  return problems;
}
const hasGpu = await webgpuAvailable();

it('every example has a smoke test', () => {
  expect(Object.keys(examples).sort()).toEqual(Object.keys(SMOKE).sort());
});

forEachBackend('examples', (backend) => {
  for (const [name, { steps, files, quickOnCpu, options }] of Object.entries(SMOKE)) {
    it.skipIf(backend === 'cpu' && hasGpu && !quickOnCpu)(
      `${name} runs ${steps} steps and writes ${files.join(', ')}`,
      async () => {
        const out = outDir();
        const result = await examples[name]?.run({ steps, backend, out, quiet: true, seed: 1, ...options });
        expect(result).toBeDefined();
        for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);
        expect(result?.files.sort()).toEqual(files.map((f) => join(out, f)).sort());
        for (const f of files.filter((f) => f.endsWith('.svg')))
          expect(svgProblems(readFileSync(join(out, f), 'utf8')), f).toEqual([]);
        for (const v of Object.values(result?.metrics ?? {})) expect(Number.isFinite(v)).toBe(true);
      },
    );
  }

  it('hi reaches ~zero loss, and its checkpoint loads back', async () => {
    const out = outDir();
    const { metrics } = await examples.hi!.run({ backend, out, quiet: true });
    expect(metrics.finalLoss).toBeLessThan(0.01);
    const weights = loadSafetensors(new Uint8Array(readFileSync(join(out, 'hi.safetensors'))));
    expect(Object.keys(weights).sort()).toEqual(['gru.l0.U', 'gru.l0.W', 'gru.l0.b', 'head.W', 'head.b']);
    expect(weights['gru.l0.W']?.shape).toEqual([3, 24]);
  });

  it('compare measures GRU, LSTM and RNN on the same budget and writes the table as JSON', async () => {
    const out = outDir();
    await examples.compare!.run({ steps: 2, backend, out, quiet: true });
    const { task, unigram, results } = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as {
      task: { steps: number; vocab: number; embed: number; hidden: number };
      unigram: number;
      results: {
        kind: string;
        parameters: number;
        msPerStep: number;
        trainLoss: number;
        validLoss: number;
        trainCurve: unknown[];
        validCurve: unknown[];
      }[];
    };
    expect(results.map((r) => r.kind)).toEqual(['GRU', 'LSTM', 'RNN']);
    // Embedding [V, E], the recurrent layer (W [E, gH], U [H, gH], b [gH] for g gate blocks), Linear [H, V] + [V].
    const { vocab: V, embed: E, hidden: H } = task;
    const expected = (g: number) => V * E + g * (E * H + H * H + H) + H * V + V;
    expect(results.map((r) => r.parameters)).toEqual([expected(3), expected(4), expected(1)]);
    expect(unigram).toBeGreaterThan(2);
    // Each model's weights, one file per model, as many values as it has parameters.
    for (const [k, kind] of ['gru', 'lstm', 'rnn'].entries()) {
      const weights = loadSafetensors(new Uint8Array(readFileSync(join(out, `compare-${kind}.safetensors`))));
      expect(Object.keys(weights).some((key) => key.startsWith('rnn.'))).toBe(true);
      expect(Object.values(weights).reduce((n, t) => n + t.size, 0)).toBe(results[k]?.parameters);
    }
    for (const r of results) {
      expect(r.validCurve).toHaveLength(2); // after step 1 and at the end
      for (const v of [r.msPerStep, r.trainLoss, r.validLoss]) expect(v).toBeGreaterThan(0);
    }
  });
});

describe('dependency: gradient flow through time, from the tape', () => {
  it('at initialisation the tanh RNN loses its gradient within 40 steps and the gated layers keep it', async () => {
    await setBackend('cpu');
    const set = recallBatch(40, 16, rng(3));
    const ratio: Record<string, number> = {};
    const live: number[] = [];
    for (const kind of KINDS) {
      const before = memory().liveTensors;
      const model = new Recall(kind, hiddenSizeFor(kind, 2000), 5);
      await model.openMemory();
      const flow = await gradientFlow(model, set);
      expect(flow.gradNorm).toHaveLength(42);
      expect(flow.checkMaxDiff).toBeLessThan(1e-6); // the step-by-step pass is the layer's forward
      ratio[kind] = (flow.gradNorm[0] ?? 0) / (flow.gradNorm[41] ?? 1);
      expect(flow.meanUpdateGate === null).toBe(kind === 'RNN' || kind === 'LSTM');
      model.dispose();
      live.push(memory().liveTensors - before);
    }
    for (const kind of ['GRU', 'GRU (reset after)', 'LSTM']) expect(ratio.RNN).toBeLessThan((ratio[kind] ?? 0) * 1e-3);
    // A pass leaves behind a few tensors (its read-out's output, freed by the next backward), not
    // hundreds (its per-step gates, the final state check, the zero states: 218 to 1015 before).
    expect(Math.max(...live), live.join(', ')).toBeLessThanOrEqual(3);
    for (const t of [set.x, set.y]) t.dispose();
  });
});

describe('command line', () => {
  it('parses a name and options', () => {
    expect(parseArgs(['charlm', '--steps', '10', '--backend=cpu', '--out', 'x', '--seed', '3', '--quiet'])).toEqual({
      name: 'charlm',
      options: { steps: 10, backend: 'cpu', out: 'x', seed: 3, quiet: true },
      help: false,
    });
    expect(parseArgs(['--', 'hi', '--steps=5'])).toEqual({ name: 'hi', options: { steps: 5 }, help: false });
    expect(parseArgs(['charlm', '--checkpoint-every', '50', '--resume']).options).toEqual({
      checkpointEvery: 50,
      resume: true,
    });
    expect(parseArgs([])).toEqual({ name: undefined, options: {}, help: false });
    expect(parseArgs(['-h']).help).toBe(true);
    expect(parseArgs(['dependency', '--distances', '5,10,200', '--seeds', '2']).options).toEqual({
      distances: [5, 10, 200],
      seeds: 2,
    });
    expect(() => parseArgs(['dependency', '--distances', '5,x'])).toThrow(/--distances must be a positive integer/);
    expect(parseArgs(['hi', '--help']).help).toBe(true);
  });
  it('rejects unknown options and bad values with a clear message', () => {
    expect(() => parseArgs(['hi', '--step', '3'])).toThrow(/Unknown option `--step`/);
    expect(() => parseArgs(['hi', '-x'])).toThrow(/Unknown option `-x`/);
    expect(() => parseArgs(['hi', '--steps', 'ten'])).toThrow(/--steps must be a positive integer, got 'ten'/);
    expect(() => parseArgs(['hi', '--steps', '0'])).toThrow(/--steps must be a positive integer, got '0'/);
    expect(() => parseArgs(['hi', '--steps', '2.5'])).toThrow(/--steps must be a positive integer, got '2.5'/);
    expect(() => parseArgs(['hi', '--steps', '1', '--steps', '2'])).toThrow(/--steps given more than once/);
    expect(() => parseArgs(['hi', '--backend', 'gpu'])).toThrow(/--backend must be 'webgpu', 'wasm' or 'cpu'/);
    expect(() => parseArgs(['hi', '--checkpoint-every', '0'])).toThrow(/--checkpoint-every must be a positive integer/);
    expect(() => parseArgs(['hi', '--out'])).toThrow(/`--out <dir>` value is missing/);
    expect(() => parseArgs(['hi', 'charlm'])).toThrow(/unexpected argument 'charlm'/);
  });

  // The real command, in a child process: what it prints and its exit codes.
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const example = (...args: string[]) => {
    const r = spawnSync(
      join(root, 'node_modules/.bin/tsx'),
      ['--conditions=wgru-source', 'packages/examples/src/cli.ts', ...args],
      { cwd: root, encoding: 'utf8' },
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  it('lists every example with its description when run without a name, and with --help', () => {
    for (const args of [[], ['--help']]) {
      const { code, stdout } = example(...args);
      expect(code).toBe(0);
      expect(stdout).toContain('$ pnpm example <name> [options]');
      expect(stdout).toContain('--backend <name>');
      const width = Math.max(...Object.keys(examples).map((name) => name.length));
      for (const { about } of Object.values(examples))
        expect(stdout).toContain(`${about.name.padEnd(width)}  ${about.description}`);
    }
  });
  it('exits with code 2 and a message for an unknown example, option or value', () => {
    for (const [args, message] of [
      [['nope'], /no example named 'nope'/],
      [['hi', '--stepz', '3'], /Unknown option `--stepz`/],
      [['hi', '--backend', 'gpu'], /--backend must be 'webgpu', 'wasm' or 'cpu'/],
    ] as const) {
      const { code, stderr } = example(...args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
    }
  });
});

describe('plots', () => {
  it('draws a line chart: one line and one legend entry per series, dashes and points where asked', async () => {
    const svg = await lineChart({
      title: 'a < b',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        { name: 'one', y: [1, 2, Number.NaN, 3] },
        { name: 'two', x: [0, 2], y: [3, 1], dashed: true, points: true },
      ],
    });
    expect(svgProblems(svg)).toEqual([]);
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(2);
    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(2);
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('>two</text>');
    expect(svg).toContain('stroke-dasharray');
  });
  it('draws one cell per value in each heatmap panel, with a colour legend per panel', async () => {
    const svg = await heatmap({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      colLabels: ['A', 'w'],
      panels: [
        {
          title: 'p',
          values: [
            [0, 0.5],
            [1, 0.25],
          ],
        },
        { title: 'q', values: [[-1, 1]], min: -1, max: 1 },
      ],
    });
    expect(svgProblems(svg)).toEqual([]);
    expect(svg.match(/aria-roledescription="rect mark"/g)).toHaveLength(6);
    expect(svg.match(/aria-roledescription="legend"/g)).toHaveLength(2);
    expect(svg).toContain('>w</text>');
  });
  it('draws one bar per label in each bar panel, with its value on top', async () => {
    const svg = await barChart({
      title: 't',
      panels: [
        {
          title: 'p',
          bars: [
            { label: 'GRU', value: 4164 },
            { label: 'RNN', value: 1476 },
          ],
        },
        { title: 'q', bars: [{ label: 'GRU', value: 0.12345 }] },
      ],
    });
    expect(svgProblems(svg)).toEqual([]);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(3);
    for (const text of ['4164', '1476', '0.123']) expect(svg).toContain(`>${text}</text>`);
  });
});
