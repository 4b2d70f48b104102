/**
 * Every piece of advice an error message gives is a call that works. `ADVICE` lists them: each
 * entry provokes its error, checks that the message gives the advice word for word, then follows
 * the advice and checks that it works. A scan of packages/{tensor,autograd,nn}/src finds every
 * string that advises (call / pass / use / run / wrap / copy ... with a call or option after it)
 * and fails for one that no entry covers, so new advice comes with its test.
 *
 * Advice followed elsewhere, named in `ELSEWHERE`: after a WebGPU device loss,
 * `setBackend('webgpu')` (packages/nn/test/device.test.ts, which destroys its device in its own
 * process); `bash scripts/install-software-gpu.sh` (run by scripts/setup.sh in CI; here: it exists
 * and parses); the retain warning's "call that last backward() without retainGraph"
 * (packages/autograd/test/backward-options.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { concat as concatV, stack as stackV, type Variable, variable } from '@wgru/autograd';
import {
  Dropout,
  Embedding,
  encodeSafetensors,
  exportOnnx,
  GRU,
  GRUCell,
  Linear,
  loadSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
  toKerasGRU,
  toOnnxGRUWeights,
  toPyTorchGRU,
  toPyTorchGRUCell,
  fromKerasGRU,
} from '@wgru/nn';
import {
  add,
  activeBackend,
  cpuBackend,
  NO_ADAPTER_MESSAGE,
  randn,
  setBackend,
  type Tensor,
  tensor,
  tensorOn,
} from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend, webgpuAvailable } from '../../../test-support/backends.js';

const root = path.resolve(import.meta.dirname, '../../..');

/** The message `fn` throws (the test fails if it does not throw). */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error, none was thrown');
}

interface Advice {
  /** The advice as the source writes it (a substring of its line), and of the message. */
  says: string;
  /** Provokes the error and returns its message; follows the advice and checks that it works. */
  provoke: () => string | Promise<string>;
  follow: () => void | Promise<void>;
  /** Needs WebGPU beside the CPU backend (advice about moving between them). */
  webgpu?: boolean;
}

const ADVICE: Advice[] = [
  {
    says: '(wrap a Tensor with variable(t))',
    provoke: () => messageOf(() => new Linear(2, 1).forward(tensor([[1, 2]]) as never)),
    follow: () => {
      expect(new Linear(2, 1).forward(variable(tensor([[1, 2]]))).shape).toEqual([1, 1]);
    },
  },
  {
    says: 'read it with await item() or data()',
    provoke: () => {
      const loss = variable([1, 2], { requiresGrad: true }).mul(2).sum();
      loss.backward();
      variable([1], { requiresGrad: true }).sum().backward(); // the next backward
      return messageOf(() => loss.value);
    },
    follow: async () => {
      const loss = variable([1, 2], { requiresGrad: true }).mul(2).sum();
      loss.backward();
      variable([1], { requiresGrad: true }).sum().backward();
      expect(await loss.item()).toBe(6);
      expect(Array.from(await loss.data())).toEqual([6]);
    },
  },
  {
    says: 'read intermediate values before backward(), or call backward({ retainGraph: true })',
    provoke: () => {
      const h = variable([1, 2], { requiresGrad: true }).mul(2);
      h.sum().backward();
      variable([1], { requiresGrad: true }).sum().backward(); // h was made before the last backward()
      return messageOf(() => h.value);
    },
    follow: async () => {
      const h = variable([1, 2], { requiresGrad: true }).mul(2);
      h.sum().backward();
      const before = await h.data(); // read before the next backward()
      variable([1], { requiresGrad: true }).sum().backward();
      expect(Array.from(before)).toEqual([2, 4]);
      const kept = variable([1, 2], { requiresGrad: true }).mul(2);
      kept.sum().backward({ retainGraph: true });
      expect(Array.from(await kept.value.data())).toEqual([2, 4]);
    },
  },
  {
    says: 'pass { retainGraph: true } to the first backward() to backpropagate through it again',
    provoke: () => {
      const y = variable([1, 2], { requiresGrad: true }).mul(3).sum();
      y.backward();
      return messageOf(() => y.backward());
    },
    follow: async () => {
      const x = variable([1, 2], { requiresGrad: true });
      const h = x.mul(3);
      h.sum().backward({ retainGraph: true });
      h.mean().backward(); // a second backward through h's graph
      expect(Array.from(await x.grad!.data())).toEqual([4.5, 4.5]);
    },
  },
  {
    says: 'call backward(opts) or backward(gradient, opts)',
    provoke: () =>
      messageOf(() =>
        variable([1], { requiresGrad: true })
          .sum()
          .backward({} as never, {}),
      ),
    follow: () => {
      const x = variable([1, 2], { requiresGrad: true });
      x.sum().backward({ retainGraph: false });
      x.mul(2).backward(tensor([1, 1]), { retainGraph: false });
    },
  },
  {
    says: 'opts must be an object like { retainGraph: true }',
    provoke: () =>
      messageOf(() =>
        variable([1], { requiresGrad: true })
          .sum()
          .backward(undefined, true as never),
      ),
    follow: () => {
      const y = variable([1], { requiresGrad: true }).sum();
      y.backward(undefined, { retainGraph: true });
      y.backward();
    },
  },
  {
    says: 'options must be an object like { lengths }',
    provoke: () =>
      messageOf(() => new GRU({ inputSize: 1, hiddenSize: 2 }).forward(variable([[[1]]]), undefined, 3 as never)),
    follow: () => {
      const { output } = new GRU({ inputSize: 1, hiddenSize: 2 }).forward(variable([[[1]], [[2]]]), undefined, {
        lengths: Int32Array.from([1]),
      });
      expect(output.shape).toEqual([2, 1, 2]);
    },
  },
  {
    says: 'options must be an object like { inputSize, hiddenSize }',
    provoke: () => messageOf(() => new GRU(3 as never)),
    follow: () => {
      expect(new GRU({ inputSize: 1, hiddenSize: 2 }).hiddenSize).toBe(2);
    },
  },
  {
    says: 'use stack',
    provoke: () => messageOf(() => concatV([variable(1), variable(2)], 0)),
    follow: async () => {
      expect(await stackV([variable(1), variable(2)], 0).array()).toEqual([1, 2]);
    },
  },
  {
    says: 'options must be an object like { seed: 42 }',
    provoke: () => messageOf(() => randn([2], 42 as never)),
    follow: () => {
      expect(randn([2], { seed: 42 }).shape).toEqual([2]);
    },
  },
  {
    says: 'Train with resetAfter: true to export to PyTorch, or export to ONNX (linear_before_reset = 0) or Keras (reset_after = False).',
    provoke: () => messageOf(() => toPyTorchGRU(new GRU({ inputSize: 2, hiddenSize: 3 }))),
    follow: () => {
      expect(toPyTorchGRU(new GRU({ inputSize: 2, hiddenSize: 3, resetAfter: true })).weight_hh_l0?.shape).toEqual([
        9, 3,
      ]);
      const gru = new GRU({ inputSize: 2, hiddenSize: 3 });
      expect(toOnnxGRUWeights(gru).attributes.linear_before_reset).toBe(0);
      expect(toKerasGRU(gru)).toHaveLength(3);
    },
  },
  {
    says: 'for one cell of a GRU pass gru.cell(layer, direction)',
    provoke: () =>
      messageOf(() => toPyTorchGRUCell(new GRU({ inputSize: 2, hiddenSize: 3, resetAfter: true }) as never)),
    follow: () => {
      const gru = new GRU({ inputSize: 2, hiddenSize: 3, resetAfter: true });
      expect(Object.keys(toPyTorchGRUCell(gru.cell(0, 0))).sort()).toEqual([
        'bias_hh',
        'bias_ih',
        'weight_hh',
        'weight_ih',
      ]);
    },
  },
  {
    says: `for a GRUCell call \${fn}Cell(cell)`,
    provoke: () =>
      messageOf(() => toPyTorchGRU(new GRUCell({ inputSize: 2, hiddenSize: 3, resetAfter: true }) as never)),
    follow: () => {
      expect(toPyTorchGRUCell(new GRUCell({ inputSize: 2, hiddenSize: 3, resetAfter: true })).weight_ih?.shape).toEqual(
        [9, 2],
      );
    },
  },
  {
    says: 'pass { layer } (and chain one node per layer)',
    provoke: () => messageOf(() => toOnnxGRUWeights(new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2 }))),
    follow: () => {
      const gru = new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2 });
      expect((toOnnxGRUWeights(gru, { layer: 1 }).W as Tensor).shape).toEqual([1, 9, 3]);
    },
  },
  {
    says: "pass the layer's reset_after as resetAfter",
    provoke: () => {
      const w = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b)) });
      return messageOf(() => fromKerasGRU([w(2, 9), w(3, 9)], { inputSize: 2, hiddenSize: 3 }));
    },
    follow: () => {
      const w = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b)) });
      const dict = fromKerasGRU([w(2, 9), w(3, 9)], { inputSize: 2, hiddenSize: 3, resetAfter: false });
      new GRU({ inputSize: 2, hiddenSize: 3, bias: false }).loadStateDict(dict);
    },
  },
  {
    says: 'use one kind',
    provoke: () => {
      const gru = new GRU({ inputSize: 2, hiddenSize: 3 });
      const mixed = [new Float32Array(18), new Float64Array(27), new Float32Array(9)] as const;
      expect(gru).toBeDefined();
      return messageOf(() => fromKerasGRU(mixed as never, { inputSize: 2, hiddenSize: 3 }));
    },
    follow: () => {
      const dict = fromKerasGRU([new Float32Array(18), new Float32Array(27), new Float32Array(9)], {
        inputSize: 2,
        hiddenSize: 3,
      });
      new GRU({ inputSize: 2, hiddenSize: 3 }).loadStateDict(dict);
    },
  },
  {
    says: '(pass its .value)',
    provoke: () => messageOf(() => saveSafetensorsSync({ w: variable([1, 2]) } as never)),
    follow: async () => {
      const v = variable([1, 2]);
      const bytes = await saveSafetensors({ w: v.value });
      expect(await loadSafetensors(bytes).w?.data()).toEqual(Float32Array.from([1, 2]));
    },
  },
  {
    says: '(use float32, float64 or int32)',
    provoke: () =>
      messageOf(() =>
        encodeSafetensors({ w: { dtype: 'uint8' as never, shape: [1], data: new Uint8Array(1) as never } }),
      ),
    follow: () => {
      const bytes = encodeSafetensors({ w: { dtype: 'int32', shape: [1], data: Int32Array.from([7]) } });
      expect(bytes.length).toBeGreaterThan(8);
    },
  },
  {
    says: 'use float32',
    webgpu: true,
    provoke: () => messageOf(() => tensor([1], undefined, 'float64')),
    follow: () => {
      expect(tensor([1], undefined, 'float32').dtype).toBe('float32');
    },
  },
  {
    says: 'copy one across with tensorOn(backend, await t.data(), t.shape, t.dtype)',
    webgpu: true,
    provoke: () => messageOf(() => add(tensor([1, 2]), tensorOn(cpuBackend(), [1, 2]))),
    follow: async () => {
      const t = tensorOn(cpuBackend(), [1, 2]);
      const backend = activeBackend();
      expect(await add(tensor([1, 2]), tensorOn(backend, await t.data(), t.shape, t.dtype)).data()).toEqual(
        Float32Array.from([2, 4]),
      );
    },
  },
  {
    says: 'pass its values (await t.data()) instead',
    webgpu: true,
    provoke: () =>
      messageOf(() =>
        new Linear(2, 1).loadStateDict({
          W: tensorOn(cpuBackend(), [[1], [2]]),
          b: tensorOn(cpuBackend(), [0]),
        }),
      ),
    follow: async () => {
      const t = tensorOn(cpuBackend(), [[1], [2]]);
      const lin = new Linear(2, 1);
      lin.loadStateDict({ W: (await t.data()) as Float32Array, b: new Float32Array(1) });
      expect(await lin.stateDict().W?.data()).toEqual(Float32Array.from([1, 2]));
    },
  },
  {
    says: 'use `await saveSafetensors(stateDict)` instead',
    webgpu: true,
    provoke: () => messageOf(() => saveSafetensorsSync(new Linear(2, 1).stateDict())),
    follow: async () => {
      const bytes = await saveSafetensors(new Linear(2, 1).stateDict());
      expect(Object.keys(loadSafetensors(bytes)).sort()).toEqual(['W', 'b']);
    },
  },
  {
    says: 'call model.eval() before exporting',
    provoke: () => {
      const model = new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2, dropout: 0.5 });
      return messageOf(() => exportOnnx((x: Variable) => model.forward(x).output, [variable(randn([3, 2, 2]))]));
    },
    follow: async () => {
      const model = new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2, dropout: 0.5 }).eval();
      const drop = new Dropout(0.5).eval();
      const bytes = await exportOnnx(
        (x: Variable) => drop.forward(model.forward(x).output),
        [variable(randn([3, 2, 2]))],
      );
      expect(bytes.length).toBeGreaterThan(0);
    },
  },
  {
    says: 'pass its indices as an int32 Tensor',
    provoke: () => {
      const embed = new Embedding(4, 2);
      return messageOf(() => exportOnnx(() => embed.forward([[1, 2]]), []));
    },
    follow: async () => {
      const embed = new Embedding(4, 2);
      const bytes = await exportOnnx(() => embed.forward(tensor([[1, 2]], undefined, 'int32')), []);
      expect(bytes.length).toBeGreaterThan(0);
    },
  },
  {
    says: 'write it with Variable ops, or compute it before the call so that it is a constant',
    provoke: () => {
      const fc = new Linear(2, 2);
      return messageOf(() =>
        exportOnnx((x: Variable) => variable(add(fc.forward(x).value, 1)), [variable(randn([3, 2]))]),
      );
    },
    follow: async () => {
      const fc = new Linear(2, 2);
      const x = variable(randn([3, 2]));
      const one = variable(tensor([1, 1])); // computed before the call: a constant
      await exportOnnx((v: Variable) => fc.forward(v).add(1), [x]); // with Variable ops
      await exportOnnx((v: Variable) => fc.forward(v).add(one), [x]);
    },
  },
];

/** Advice followed by another test, or by CI itself (see the file comment). */
const ELSEWHERE = [
  "Call setBackend('webgpu') again to re-initialise.",
  "call setBackend('webgpu') again.",
  "call setBackend('webgpu') for a fresh one.",
  'run `bash scripts/install-software-gpu.sh`',
  'call that last backward() ',
];

/** What a string literal says, its escaped backticks and quotes read as the message shows them. */
const literalText = (literal: string): string => literal.slice(1, -1).replace(/\\([`'"])/g, '$1');

/**
 * The strings of the sources (not comments) that advise a call, an option or a command, each as
 * `file:line: text`. Literals joined by `+` across lines (long messages wrapped at 120 columns)
 * are read as one string.
 */
function advisingStrings(): string[] {
  const out: string[] = [];
  const literal = /'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g;
  const advice = /\b([Cc]all|pass|use|run|wrap|copy one across with|Train with|read it with|an object like)\b [^\s]/;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      if (!e.name.endsWith('.ts')) continue;
      // Comment lines blanked (kept as lines, so that line numbers stay right).
      const text = readFileSync(p, 'utf8')
        .split('\n')
        .map((l) => (/^\s*(\*|\/\/|\/\*)/.test(l) ? '' : l))
        .join('\n');
      // Runs of literals joined by `+`: [start of the first, text so far, end of the last].
      const runs: Array<[number, string, number]> = [];
      for (const m of text.matchAll(literal)) {
        const last = runs.at(-1);
        if (last && /^\s*\+\s*$/.test(text.slice(last[2], m.index))) {
          last[1] += literalText(m[0]);
          last[2] = m.index + m[0].length;
        } else runs.push([m.index, literalText(m[0]), m.index + m[0].length]);
      }
      for (const [at, said] of runs)
        if (advice.test(said)) out.push(`${path.relative(root, p)}:${text.slice(0, at).split('\n').length}: ${said}`);
    }
  };
  for (const pkg of ['tensor', 'autograd', 'nn']) walk(path.join(root, 'packages', pkg, 'src'));
  return out;
}

describe('error advice', () => {
  it('every advising string in the sources is followed by a test here (or the one named for it)', () => {
    const covered = [...ADVICE.map((a) => a.says), ...ELSEWHERE];
    const found = advisingStrings();
    expect(found.length).toBeGreaterThanOrEqual(ADVICE.length); // the scan sees them all
    const uncovered = found.filter((l) => !covered.some((c) => l.includes(c)));
    expect(uncovered).toEqual([]);
  });

  it('the install command the no-adapter message gives exists and parses (CI runs it in scripts/setup.sh)', () => {
    expect(NO_ADAPTER_MESSAGE).toContain('run `bash scripts/install-software-gpu.sh`');
    const script = path.join(root, 'scripts/install-software-gpu.sh');
    expect(existsSync(script)).toBe(true);
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
    expect(readFileSync(path.join(root, 'scripts/setup.sh'), 'utf8')).toContain('bash scripts/install-software-gpu.sh');
  });
});

const hasGpu = await webgpuAvailable();

forEachBackend('error advice is a call that works', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });
  for (const a of ADVICE) {
    // Advice about moving values between the CPU backend and WebGPU is provoked on WebGPU.
    const skip = a.webgpu === true && (name !== 'webgpu' || !hasGpu);
    it.skipIf(skip)(a.says, async () => {
      const message = await a.provoke();
      const says = a.says.replace(`\${fn}`, message.split(':')[0] ?? '');
      expect(message).toContain(says);
      await a.follow();
    });
  }
});
