/**
 * `backward()`'s arguments: a seed and options, or the options alone (`backward({ retainGraph:
 * true })`, as PyTorch's `backward(retain_graph=True)` reads), checked at call time. Retaining
 * every step's graph in a loop, with live tensors growing, warns once on stderr with the count.
 */
import { variable } from '@wgru/autograd';
import { memory, setBackend, tensor } from '@wgru/tensor';
import { afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import { RETAIN_WARN_AFTER, resetRetainWatch } from '../src/backward-options.js';

forEachBackend('backward options', (name) => {
  let stderr: string[] = [];
  beforeAll(async () => {
    await setBackend(name);
  });
  beforeEach(() => {
    resetRetainWatch();
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('backward({ retainGraph: true }) as the only argument keeps the graph for a second backward', async () => {
    const x = variable([1, 2], { requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward({ retainGraph: true });
    y.backward();
    expect(Array.from(await x.grad!.data())).toEqual([4, 8]);
    // The loss stays on the device after a retained backward, and moves to the host after the last.
    expect(await y.item()).toBe(5);
  });

  it('a one-element loss moved to the host keeps its shape in array() ([1, 1] -> [[v]], [] -> v)', async () => {
    const x = variable([[1, 2]], { requiresGrad: true });
    const kept = x.mul(x).sum(1, true); // [1, 1]
    kept.backward();
    expect(await kept.array()).toEqual([[5]]);
    const scalar = x.sum();
    scalar.backward();
    expect(await scalar.array()).toBe(3);
  });

  it('the seed and the options together, and the options alone, mean the same', async () => {
    const x = variable([1, 2], { requiresGrad: true });
    const y = x.mul(3);
    y.backward(tensor([1, 1]), { retainGraph: true });
    y.backward(tensor([1, 0]));
    expect(Array.from(await x.grad!.data())).toEqual([6, 3]);
    const s = x.sum();
    s.backward(undefined, { retainGraph: false });
    s.dispose();
  });

  it('rejects unknown options, options given twice, and a seed of the wrong kind, naming the argument', () => {
    const x = variable([1, 2], { requiresGrad: true });
    const y = x.sum();
    expect(() => y.backward({ retaingraph: true } as never)).toThrow(
      /^backward: unknown option 'retaingraph' \(known: retainGraph\)/,
    );
    expect(() => y.backward({ retainGraph: 1 } as never)).toThrow(
      /^backward: retainGraph must be true or false, got 1/,
    );
    expect(() => y.backward({ retainGraph: true } as never, {})).toThrow(/^backward: options given twice/);
    expect(() => y.backward(undefined, true as never)).toThrow(
      /^backward: opts must be an object like \{ retainGraph: true \}/,
    );
    expect(() => y.backward([1] as never)).toThrow(/^backward: gradient must be a Tensor of shape \[\], got object/);
    y.backward();
  });

  it(`retaining every step's graph while live tensors grow warns once, on stderr, with the count`, () => {
    const x = variable([1, 2, 3], { requiresGrad: true });
    const kept = [];
    const before = memory().liveTensors;
    for (let step = 0; step < 3 * RETAIN_WARN_AFTER; step++) {
      const loss = x.mul(2).exp().sum();
      loss.backward({ retainGraph: true });
      kept.push(loss); // a loop that keeps its losses: their retained graphs stay alive
    }
    const warnings = stderr.filter((l) => l.includes('retainGraph'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^wgru: backward\\(\\{ retainGraph: true \\}\\) was called ${RETAIN_WARN_AFTER} times in a row and live tensors kept growing \\((\\d+) -> (\\d+), memory\\(\\)\\.liveTensors\\)`,
      ),
    );
    const [, from, to] = /\((\d+) -> (\d+)/.exec(warnings[0] as string) as RegExpExecArray;
    expect(Number(from)).toBeGreaterThan(before);
    expect(Number(to)).toBeGreaterThan(Number(from));
    for (const l of kept) l.dispose();
    x.dispose();
  });

  it('no warning when each retained graph is consumed by a last backward(), or when the count does not grow', async () => {
    const x = variable([1, 2, 3], { requiresGrad: true });
    for (let step = 0; step < 3 * RETAIN_WARN_AFTER; step++) {
      const loss = x.mul(2).exp().sum();
      loss.backward({ retainGraph: true });
      loss.backward(); // the advice of the warning: the last backward through a graph frees it
      x.zeroGrad();
    }
    const y = x.mul(x).sum();
    for (let k = 0; k < 3 * RETAIN_WARN_AFTER; k++) y.backward({ retainGraph: true }); // one graph, reused
    expect(stderr.filter((l) => l.includes('retainGraph'))).toEqual([]);
    expect(await x.grad!.data()).toHaveLength(3);
    y.dispose();
    x.dispose();
  });
});
