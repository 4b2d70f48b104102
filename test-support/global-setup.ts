/**
 * Runs once before the suite. Under WGRU_REQUIRE_WEBGPU=1 (CI), a missing WebGPU adapter fails
 * the run instead of letting the WebGPU tests skip, and the adapter used is printed. The adapter
 * is looked for in a child process (adapter-probe.ts), whose stderr is filtered of Dawn's
 * "artificially reduced" warnings like the test workers' (see vitest.config.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropDawnNoise } from '../scripts/quiet-dawn.mjs';
import { witnessFolder } from './witness-folder.js';

interface Probe {
  adapter: { vendor: string; architecture: string; description: string };
  featureLevel: string;
  features: string[];
}

export default async function setup(): Promise<() => void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const r = spawnSync(
    path.join(root, 'node_modules/.bin/tsx'),
    ['--conditions=wgru-source', 'test-support/adapter-probe.ts'],
    { cwd: root, encoding: 'utf8' },
  );
  process.stderr.write(dropDawnNoise(r.stderr ?? ''));
  if (r.status !== 0) throw new Error(`test-support/adapter-probe.ts failed (exit ${r.status}): ${r.stderr}`);
  const found = JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null') as Probe | null;
  if (found) {
    const a = found.adapter;
    process.stdout.write(
      `wgru tests: WebGPU adapter: ${a.vendor} / ${a.architecture} / ${a.description} (${found.featureLevel}; optional features: ${found.features.join(', ') || 'none'})\n`,
    );
  } else if (process.env.WGRU_REQUIRE_WEBGPU === '1') {
    throw new Error(
      'WGRU_REQUIRE_WEBGPU=1 but no WebGPU adapter was found: run `bash scripts/install-software-gpu.sh` (Mesa lavapipe) first.',
    );
  } else {
    process.stdout.write('wgru tests: no WebGPU adapter; WebGPU tests will be skipped\n');
  }
  return witnessCrashes();
}

/**
 * Test processes say where they are in a folder of this run's (crash-witness.ts); at the end,
 * those that never finished are named, with the test each was in, and the folder is removed.
 */
function witnessCrashes(): () => void {
  const folder = witnessFolder(process.pid);
  mkdirSync(folder, { recursive: true });
  return () => {
    for (const pid of readdirSync(folder)) {
      const [file, state] = readFileSync(path.join(folder, pid), 'utf8').split('\n');
      if (state !== 'finished') {
        process.stderr.write(
          `wgru tests: the process of ${file} (pid ${pid}) ended without finishing it; last seen ${state}\n`,
        );
      }
    }
    rmSync(folder, { recursive: true, force: true });
  };
}
