/**
 * A temporary tuning table for a test file of the autotuner: from beforeAll on, WGRU_TUNING_CACHE
 * names a file in a fresh folder; afterAll runs the file's own `reset`, gives a WebGPU device under
 * test a fresh backend without the file's tables, restores the environment and removes the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setBackend, shutdown } from '@wgru/tensor';
import { afterAll, beforeAll } from 'vitest';
import { DUT_NAME, deviceUnderTest } from './property-support.js';

/** Sets `name` back to `value` (unset where it was unset). */
export function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** The folder, and the environment as it was (for tests that change it and put it back). */
export function temporaryTuningCache(
  prefix: string,
  reset: () => void = () => {},
): { dir: string; saved: { cache: string | undefined; budget: string | undefined } } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const saved = { cache: process.env.WGRU_TUNING_CACHE, budget: process.env.WGRU_TUNING_BUDGET_MS };
  beforeAll(async () => {
    process.env.WGRU_TUNING_CACHE = join(dir, 'tuning.json');
    await deviceUnderTest();
  });
  afterAll(async () => {
    reset();
    if (DUT_NAME === 'webgpu') {
      shutdown(); // a fresh backend, without this file's tables
      await setBackend('webgpu', { tuning: 'off' });
    }
    restoreEnv('WGRU_TUNING_CACHE', saved.cache);
    restoreEnv('WGRU_TUNING_BUDGET_MS', saved.budget);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, saved };
}
