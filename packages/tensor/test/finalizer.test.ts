/**
 * The safety net: tensors dropped without dispose() give their storage back once the garbage
 * collector finds them, whether they were registered at the end of their job or when the list
 * of unregistered tensors filled up (tensor.ts, finalizer.ts); disposed ones stay accounted once.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memory, setBackend, tensor, zeros } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage until the live tensor count is back to `count` (finalizers run in later tasks). */
async function settle(count: number): Promise<number> {
  for (let i = 0; i < 50 && memory().liveTensors > count; i++) {
    await new Promise((r) => setTimeout(r, 10));
    gc();
  }
  return memory().liveTensors;
}

beforeAll(async () => {
  await setBackend('wasm');
});

it('dropped tensors are freed by the garbage collector, few or many per job', async () => {
  zeros([1]).dispose(); // the backend's own first allocations (a kernel's parameter block)
  const base = memory().liveTensors;
  const bytes = memory().bytesInUse;
  (() => {
    for (let i = 0; i < 10; i++) zeros([64]); // registered at the end of this job
  })();
  expect(memory().liveTensors).toBe(base + 10);
  expect(await settle(base)).toBe(base);
  (() => {
    for (let i = 0; i < 20_000; i++) tensor([i]); // past the list's size: most registered during the job
  })();
  expect(await settle(base)).toBe(base);
  expect(memory().bytesInUse).toBe(bytes);
});

it('a disposed tensor is not released again by the safety net', async () => {
  const base = memory().liveTensors;
  const kept = zeros([8]);
  (() => {
    for (let i = 0; i < 100; i++) zeros([8]).dispose();
  })();
  expect(await settle(base + 1)).toBe(base + 1);
  await new Promise((r) => setTimeout(r, 20));
  gc();
  await new Promise((r) => setTimeout(r, 20));
  expect(memory().liveTensors).toBe(base + 1);
  expect(Array.from(await kept.data())).toEqual(new Array(8).fill(0));
  kept.dispose();
});
