import { add, engineStats, exp, matmul, mul, setBackend, sum, tensor, tidy } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

forEachBackend('smoke', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });
  it('adds, multiplies and reduces', async () => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = tensor([10, 20, 30]);
    const c = add(a, b);
    expect(await c.array()).toEqual([
      [11, 22, 33],
      [14, 25, 36],
    ]);
    const s = sum(c, 1);
    expect(Array.from(await s.data())).toEqual([66, 75]);
    const m = matmul(a, tensor([[1], [1], [1]]));
    expect(await m.array()).toEqual([[6], [15]]);
  });
  it('submits a chain of 100 ops once, at the read', async () => {
    let x = tensor([0.5, 0.25]);
    await x.data();
    const before = engineStats();
    for (let i = 0; i < 100; i++) x = mul(exp(x), 0.5); // every intermediate stays alive
    await x.data();
    const after = engineStats();
    if (name === 'webgpu') expect(after.submits - before.submits).toBe(1);
    else expect(after.dispatches - before.dispatches).toBe(200);
  });
  it('fuses an elementwise chain whose temporaries are freed into one kernel', async () => {
    const x = tensor([0.5, 0.25]);
    await x.data();
    const before = engineStats();
    const y = tidy(() => {
      let v = x;
      for (let i = 0; i < 100; i++) v = mul(exp(v), 0.5);
      return v;
    });
    const values = await y.data();
    const after = engineStats();
    if (name === 'webgpu') expect(after.dispatches - before.dispatches).toBe(1);
    let ref = [0.5, 0.25];
    for (let i = 0; i < 100; i++) ref = ref.map((v) => Math.exp(v) * 0.5);
    expect(Array.from(values)[0]).toBeCloseTo(ref[0], 5);
  });
});
