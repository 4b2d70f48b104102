/**
 * Anomaly mode names the first op that produced a NaN or Infinity: at the op on the CPU, at the
 * next read (or `checkAnomalies()`) on WebGPU.
 */
import {
  checkAnomalies,
  hasPendingAnomalies,
  isAnomalyDetectionEnabled,
  setAnomalyDetection,
  type Variable,
  variable,
} from '@wgru/autograd';
import { setBackend } from '@wgru/tensor';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

forEachBackend('anomaly mode', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });
  afterEach(async () => {
    setAnomalyDetection(false);
    await checkAnomalies().catch(() => undefined); // leave nothing pending for the next test
  });

  /**
   * Runs `compute` and expects the anomaly `message`: thrown by the op itself on the CPU, or by
   * the first read of the result on WebGPU.
   */
  async function expectAnomaly(compute: () => Variable, message: RegExp): Promise<void> {
    if (name === 'cpu') {
      expect(compute).toThrow(message);
      return;
    }
    const y = compute(); // nothing is read yet: no error
    await expect(y.item()).rejects.toThrow(message);
    expect(hasPendingAnomalies()).toBe(false);
  }

  it('is off by default: NaN flows through unreported', async () => {
    expect(isAnomalyDetectionEnabled()).toBe(false);
    const x = variable([1, 0, 2], { requiresGrad: true });
    const y = x.log().sum();
    y.backward();
    expect(await y.item()).toBe(Number.NEGATIVE_INFINITY);
    expect(hasPendingAnomalies()).toBe(false);
  });

  it('names the first forward op with a non-finite output, and its shape', async () => {
    setAnomalyDetection(true);
    const x = variable([[1, 0, 2]], { requiresGrad: true });
    // log(0) = -Inf is first; exp and sum of it follow, but the report names log.
    await expectAnomaly(
      () => x.mul(2).log().exp().sum(),
      /forward of log produced 1 non-finite value .*output of shape \[1, 3\]/,
    );
  });

  it('names the first backward op with a non-finite gradient, and which input', async () => {
    setAnomalyDetection(true);
    const x = variable([4, 0, 1], { requiresGrad: true });
    const w = variable([[1], [2], [3]]);
    // sqrt(0) = 0 is finite; its derivative 1 / (2 sqrt(0)) is not.
    const y = x.sqrt().reshape([1, 3]).matmul(w).sum();
    if (name === 'cpu') {
      expect(() => y.backward()).toThrow(
        /backward of sqrt produced 1 non-finite value .*gradient for its input 0 \(shape \[3\]/,
      );
      return;
    }
    y.backward();
    await expect(checkAnomalies()).rejects.toThrow(
      /backward of sqrt produced 1 non-finite value .*gradient for its input 0 \(shape \[3\]/,
    );
  });

  it('a forward anomaly is reported before a later backward one', async () => {
    setAnomalyDetection(true);
    if (name === 'cpu') return; // the CPU stops at the forward op already
    const x = variable([-1, 1], { requiresGrad: true });
    const y = x.sqrt().sum(); // NaN forward, NaN backward
    y.backward();
    await expect(checkAnomalies()).rejects.toThrow(/forward of sqrt produced 1 non-finite value/);
  });

  it('stays quiet when everything is finite, and checks each recording once', async () => {
    setAnomalyDetection(true);
    const x = variable([0.5, 2], { requiresGrad: true });
    const y = x.log().mul(x).softmax(0).sum();
    y.backward();
    await checkAnomalies();
    expect(hasPendingAnomalies()).toBe(false);
    expect(Number.isFinite(await y.item())).toBe(true);
    if (name === 'webgpu') {
      const bad = x.sub(x).log(); // log(0)
      await expect(checkAnomalies()).rejects.toThrow(/forward of log/);
      await checkAnomalies(); // already reported
      expect((await bad.data())[0]).toBe(Number.NEGATIVE_INFINITY);
    }
  });

  it('rejects a non-boolean switch', () => {
    expect(() => setAnomalyDetection('yes' as unknown as boolean)).toThrow(
      /setAnomalyDetection: expected true or false/,
    );
  });
});
