import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '@wgru/nn';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachBackend, webgpuAvailable } from '../../../test-support/backends.js';
import { examples } from '../src/index.js';
import { parseArgs } from '../src/lib/args.js';
import { heatmap, lineChart } from '../src/lib/svg.js';

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
const SMOKE: Record<string, { steps: number; files: string[]; quickOnCpu: boolean }> = {
  hi: { steps: 100, files: ['loss.svg', 'hi.safetensors'], quickOnCpu: true },
  charlm: { steps: 2, files: ['loss.svg', 'charlm.safetensors'], quickOnCpu: true },
  forecast: { steps: 2, files: ['forecast.svg', 'one-step.svg', 'loss.svg', 'forecast.safetensors'], quickOnCpu: false },
  seq2seq: { steps: 2, files: ['loss.svg', 'accuracy.svg', 'seq2seq.safetensors'], quickOnCpu: false },
  gates: { steps: 2, files: ['gates.svg', 'loss.svg', 'gates.safetensors'], quickOnCpu: true },
};
const hasGpu = await webgpuAvailable();

it('every example has a smoke test', () => {
  expect(Object.keys(examples).sort()).toEqual(Object.keys(SMOKE).sort());
});

forEachBackend('examples', (backend) => {
  for (const [name, { steps, files, quickOnCpu }] of Object.entries(SMOKE)) {
    it.skipIf(backend === 'cpu' && hasGpu && !quickOnCpu)(`${name} runs ${steps} steps and writes its plots and checkpoint`, async () => {
      const out = outDir();
      const result = await examples[name]?.run({ steps, backend, out, quiet: true, seed: 1 });
      expect(result).toBeDefined();
      for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);
      expect(result?.files.sort()).toEqual(files.map((f) => join(out, f)).sort());
      for (const f of files.filter((f) => f.endsWith('.svg'))) {
        const svg = readFileSync(join(out, f), 'utf8');
        expect(svg.startsWith('<svg')).toBe(true);
        expect(svg).not.toContain('NaN');
      }
      for (const v of Object.values(result?.metrics ?? {})) expect(Number.isFinite(v)).toBe(true);
    });
  }

  it('hi reaches ~zero loss, and its checkpoint loads back', async () => {
    const out = outDir();
    const { metrics } = await examples.hi!.run({ backend, out, quiet: true });
    expect(metrics.finalLoss).toBeLessThan(0.01);
    const weights = loadSafetensors(new Uint8Array(readFileSync(join(out, 'hi.safetensors'))));
    expect(Object.keys(weights).sort()).toEqual(['gru.l0.U', 'gru.l0.W', 'gru.l0.b', 'head.W', 'head.b']);
    expect(weights['gru.l0.W']?.shape).toEqual([3, 24]);
  });
});

describe('command line', () => {
  it('parses a name and options', () => {
    expect(parseArgs(['charlm', '--steps', '10', '--backend=cpu', '--out', 'x', '--seed', '3'])).toEqual({
      name: 'charlm',
      options: { steps: 10, backend: 'cpu', out: 'x', seed: 3 },
      help: false,
    });
    expect(parseArgs([])).toEqual({ name: undefined, options: {}, help: false });
  });
  it('rejects unknown options and bad values with a clear message', () => {
    expect(() => parseArgs(['hi', '--step', '3'])).toThrow(/unknown option '--step'/);
    expect(() => parseArgs(['hi', '--steps', 'ten'])).toThrow(/--steps must be a positive integer, got 'ten'/);
    expect(() => parseArgs(['hi', '--steps', '0'])).toThrow(/--steps must be a positive integer, got '0'/);
    expect(() => parseArgs(['hi', '--backend', 'gpu'])).toThrow(/--backend must be 'webgpu' or 'cpu'/);
    expect(() => parseArgs(['hi', '--out'])).toThrow(/--out needs a value/);
    expect(() => parseArgs(['hi', 'charlm'])).toThrow(/unexpected argument 'charlm'/);
  });
});

describe('svg', () => {
  it('draws a line chart with one polyline and one legend entry per series', () => {
    const svg = lineChart({ title: 'a < b', xLabel: 'x', yLabel: 'y', series: [{ name: 'one', y: [1, 2, 3] }, { name: 'two', x: [0, 2], y: [3, 1], dashed: true }] });
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('>two</text>');
    expect(svg).toContain('stroke-dasharray');
  });
  it('draws one cell per value in each heatmap panel', () => {
    const svg = heatmap({ title: 't', xLabel: 'x', yLabel: 'y', panels: [{ title: 'p', values: [[0, 0.5], [1, 0.25]] }, { title: 'q', values: [[-1, 1]], min: -1, max: 1 }] });
    expect(svg.match(/<rect x="\d+" y="\d+" width="12" height="12"/g)).toHaveLength(6);
  });
});
