/**
 * Resumable runs (lib/checkpoint.ts): a run killed with SIGKILL mid-way and resumed from its last
 * checkpoint reproduces an uninterrupted run's losses (exactly on the CPU, within float32 rounding
 * on WebGPU); an example resumed through `--resume` ends in the same state as one that ran through;
 * and a checkpoint is always whole (written to a temporary file, then renamed).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachBackend, webgpuAvailable } from '../../../test-support/backends.js';
import { run as charlm } from '../src/examples/charlm.js';

const dirs: string[] = [];
const outDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'wgru-resume-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = 'test/fixtures/resumable-run.ts';

function start(out: string, steps: number, backend: string, resume = false): ChildProcess {
  // Node itself with tsx's loader, not the tsx command: that one runs the program in a child
  // process of its own, which a SIGKILL to the command would leave running.
  const args = ['--import', 'tsx', '--conditions=wgru-source', fixture, out, String(steps), backend];
  return spawn(process.execPath, [...args, ...(resume ? ['--resume'] : [])], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

function finished(child: ChildProcess): Promise<number | null> {
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null) reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve(code);
    }),
  );
}

/** The step of the last complete checkpoint in `out`, or 0. */
function checkpointStep(out: string): number {
  const path = join(out, 'tiny.resume.json');
  if (!existsSync(path)) return 0;
  try {
    return JSON.parse(readFileSync(path, 'utf8')).step as number;
  } catch {
    return -1; // never: the file is renamed into place whole
  }
}

const losses = (out: string): number[] => JSON.parse(readFileSync(join(out, 'final.json'), 'utf8'));

forEachBackend('resumable runs', (backend) => {
  it('a run killed with SIGKILL mid-way resumes from its last checkpoint to the uninterrupted losses', async () => {
    const steps = 10;
    const whole = outDir();
    const killed = outDir();
    // Both at once: the uninterrupted run, and the one that is killed after its 4th checkpoint.
    const uninterrupted = finished(start(whole, steps, backend));
    const child = start(killed, steps, backend);
    const exit = finished(child);
    while (checkpointStep(killed) < 4) {
      expect(checkpointStep(killed)).not.toBe(-1);
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await exit;
    expect(existsSync(join(killed, 'final.json'))).toBe(false); // it really died mid-way
    const at = checkpointStep(killed);
    expect(at).toBeGreaterThanOrEqual(4);
    expect(at).toBeLessThan(steps);
    // The checkpoint is whole: the tensors file it names is there (a save cut short may have left
    // the previous one or a temporary file beside it, which the next save removes).
    expect(existsSync(join(killed, `tiny.resume-${at}.safetensors`))).toBe(true);

    await finished(start(killed, steps, backend, true));
    expect(readdirSync(killed).sort()).toEqual(['final.json', `tiny.resume-${steps}.safetensors`, 'tiny.resume.json']);
    await uninterrupted;
    const [expected, got] = [losses(whole), losses(killed)];
    expect(got).toHaveLength(steps);
    if (backend === 'cpu') expect(got).toEqual(expected);
    else for (const [i, l] of got.entries()) expect(l).toBeCloseTo(expected[i], 5);
  });
});

describe('an example resumed with --resume', () => {
  it('charlm: stopped after step 2 and resumed, it trains on as a run of 3 steps does (weights, optimizer, curve, data position)', async () => {
    // WebGPU where there is an adapter (faster here than the float64 CPU backend, and as exact:
    // the same kernels on the same inputs), else the CPU.
    const backend = (await webgpuAvailable()) ? 'webgpu' : 'cpu';
    const opts = { backend, quiet: true, checkpointEvery: 1 } as const;
    const whole = outDir();
    await charlm({ ...opts, steps: 3, out: whole });
    const split = outDir();
    await charlm({ ...opts, steps: 2, out: split }); // its last checkpoint is step 2's, as if killed there
    await charlm({ ...opts, steps: 3, out: split, resume: true });
    // The validation curve differs (a run evaluates at its last step); training does not.
    const state = (dir: string) => {
      const { step, rngState, optimizers, state } = JSON.parse(readFileSync(join(dir, 'charlm.resume.json'), 'utf8'));
      return { step, rngState, optimizers, trainCurve: state.trainCurve, smooth: state.smooth, random: state.random };
    };
    expect(state(split)).toEqual(state(whole));
    const tensors = (dir: string) => readFileSync(join(dir, 'charlm.resume-3.safetensors'));
    expect(tensors(split).equals(tensors(whole))).toBe(true);
  });
});
