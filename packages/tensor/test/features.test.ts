/**
 * Optional WebGPU features (subgroups, shader-f16): enabled only where the adapter has them,
 * turned off on request, reported in backend().features, and the kernels that use them chosen
 * accordingly. The numbers they compute are checked on both sides in reduce.property.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { backend, OPTIONAL_FEATURES, setBackend, sum, tensor } from '@wgru/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { webgpuAvailable } from '../../../test-support/backends.js';
import { wantedFeatures } from '../src/webgpu/device.js';
import { reduceTuning } from '../src/webgpu/kernels/reduce.js';

const hasGpu = await webgpuAvailable();

afterAll(async () => {
  reduceTuning.onKernel = null;
  await setBackend('webgpu', { optionalFeatures: [...OPTIONAL_FEATURES] }).catch(() => undefined);
});

describe('which optional features are asked for', () => {
  it('all of them by default, none or a list from WGRU_WEBGPU_FEATURES, the option over both', () => {
    const saved = process.env.WGRU_WEBGPU_FEATURES;
    try {
      delete process.env.WGRU_WEBGPU_FEATURES;
      expect(wantedFeatures({})).toEqual(['subgroups', 'shader-f16']);
      process.env.WGRU_WEBGPU_FEATURES = 'none';
      expect(wantedFeatures({})).toEqual([]);
      process.env.WGRU_WEBGPU_FEATURES = 'subgroups';
      expect(wantedFeatures({})).toEqual(['subgroups']);
      expect(wantedFeatures({ optionalFeatures: ['shader-f16'] })).toEqual(['shader-f16']);
      process.env.WGRU_WEBGPU_FEATURES = 'subgroup';
      expect(() => wantedFeatures({})).toThrow(/WGRU_WEBGPU_FEATURES: unknown feature 'subgroup'/);
    } finally {
      if (saved === undefined) delete process.env.WGRU_WEBGPU_FEATURES;
      else process.env.WGRU_WEBGPU_FEATURES = saved;
    }
  });

  it('a misspelt WGRU_WEBGPU_FEATURES fails the first use with its name, not a silent CPU fallback', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=wgru-source',
        '-e',
        "import('@wgru/tensor').then((t) => { t.zeros([1]); console.log('no error'); })",
      ],
      {
        env: { ...process.env, WGRU_WEBGPU_FEATURES: 'subgroup', WGRU_BACKEND: '' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.stdout).not.toContain('no error');
    expect(r.stderr).toContain("WGRU_WEBGPU_FEATURES: unknown feature 'subgroup'");
  });

  it('setBackend names an unknown feature', async () => {
    await expect(setBackend('webgpu', { optionalFeatures: ['f16' as never] })).rejects.toThrow(
      /setBackend: unknown optional feature "f16"/,
    );
    await expect(setBackend('webgpu', { optionalFeatures: 'subgroups' as never })).rejects.toThrow(
      /optionalFeatures must be an array/,
    );
  });
});

describe.skipIf(!hasGpu)('optional features on the WebGPU device', () => {
  /** The reduction kernel a sum over 5,000 elements (one output: the workgroup kernel) records. */
  async function sumKernel(): Promise<{ key: string; value: number }> {
    const keys: string[] = [];
    reduceTuning.onKernel = (k) => keys.push(k);
    const value = (await sum(tensor(new Float32Array(5000).fill(0.5))).data())[0];
    reduceTuning.onKernel = null;
    return { key: keys.join(' '), value };
  }

  it('are enabled where the adapter has them, and the reduction uses subgroups then', async () => {
    const info = await setBackend('webgpu', { optionalFeatures: [...OPTIONAL_FEATURES] });
    expect(info.features).toBeDefined();
    for (const f of info.features ?? []) expect(OPTIONAL_FEATURES).toContain(f);
    const { key, value } = await sumKernel();
    expect(value).toBe(2500);
    expect(key).toMatch(/^reduceWg\|sum/);
    expect(key.endsWith(info.features?.includes('subgroups') ? '|subgroups' : '|shared')).toBe(true);
  });

  it('turned off, give a device without them and the portable kernels', async () => {
    const info = await setBackend('webgpu', { optionalFeatures: [] });
    expect(info.features).toEqual([]);
    expect(backend().features).toEqual([]);
    const { key, value } = await sumKernel();
    expect(value).toBe(2500);
    expect(key).toMatch(/^reduceWg\|sum\|.*\|shared$/);
  });
});
