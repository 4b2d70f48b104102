/**
 * Every example in the API docs runs. The ```ts blocks of `@example` tags in the doc comments of
 * packages/{tensor,autograd,nn}/src, and the ```ts runnable blocks of the guide
 * docs/from-equations-to-code.md, are each written to a module (test-support/doctest.ts says how
 * their names get imported), typechecked together, and run on every backend. The guide's quotes
 * of packages/nn/src/rnn/gru.ts must match the lines they link to.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { isAnomalyDetectionEnabled, isGradEnabled, setAnomalyDetection } from '@wgru/autograd';
import { setBackend } from '@wgru/tensor';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import {
  checkQuotes,
  DOC_PACKAGES,
  type DocExample,
  extractDocExamples,
  extractMarkdownExamples,
  loadExports,
  typecheckExamples,
  writeExampleModule,
} from '../../../test-support/doctest.js';

const root = path.resolve(import.meta.dirname, '../../..');
const GUIDE = 'docs/from-equations-to-code.md';
// One folder per run, so that two runs at once do not overwrite each other's modules.
const outDir = path.join(import.meta.dirname, '.doc-examples', String(process.pid));

const examples: DocExample[] = [...extractDocExamples(root), ...extractMarkdownExamples(root, GUIDE)];
const exportTables = loadExports(root);
const modules = examples.map((ex, i) => {
  const stem = `${String(i).padStart(3, '0')}-${path.basename(ex.file, path.extname(ex.file))}-${ex.symbol.replace(/[^\w]+/g, '_')}`;
  return writeExampleModule(root, ex, exportTables, path.join(outDir, `${stem}.ts`));
});
const title = (ex: DocExample): string => `${ex.file}:${ex.line} (${ex.symbol})`;

/** The main public API: each must show at least one example on its page (package:name). */
const REQUIRED = [
  'tensor:tensor',
  'tensor:matmul',
  'tensor:Tensor',
  'tensor:tidy',
  'tensor:setBackend',
  'tensor:randn',
  'tensor:memory',
  'autograd:Variable',
  'autograd:variable',
  'autograd:noGrad',
  'autograd:gradcheck',
  'autograd:matmul',
  'autograd:where',
  'autograd:concat',
  'autograd:stack',
  'autograd:setAnomalyDetection',
  'nn:Module',
  'nn:Linear',
  'nn:Embedding',
  'nn:Dropout',
  'nn:GRU',
  'nn:GRUCell',
  'nn:LSTM',
  'nn:LSTMCell',
  'nn:RNN',
  'nn:RNNCell',
  'nn:CrossEntropyLoss',
  'nn:MSELoss',
  'nn:Adam',
  'nn:AdamW',
  'nn:SGD',
  'nn:clipGradNorm',
  'nn:saveSafetensors',
  'nn:saveSafetensorsSync',
  'nn:loadSafetensors',
  'nn:fromPyTorchGRU',
  'nn:fromPyTorchGRUCell',
  'nn:toPyTorchGRU',
  'nn:fromKerasGRU',
  'nn:toKerasGRU',
  'nn:fromOnnxGRU',
  'nn:toOnnxGRUWeights',
];

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe('doc examples', () => {
  it('exist for the main public API, and the guide has runnable ones', () => {
    const counts = Object.fromEntries(
      [...DOC_PACKAGES, 'docs'].map((p) => [p, examples.filter((e) => e.pkg === p).length]),
    );
    process.stdout.write(`doc examples: ${JSON.stringify(counts)}\n`);
    const documented = new Set(examples.map((e) => `${e.pkg}:${e.symbol}`));
    expect(REQUIRED.filter((k) => !documented.has(k))).toEqual([]);
    expect(counts.docs).toBeGreaterThan(0);
  });

  it('typecheck (strict), as written in the doc comments', () => {
    expect(typecheckExamples(root, modules, exportTables)).toEqual([]);
  });

  it(`the guide's quotes of the source match the lines they link to`, () => {
    // Lines that only moved are put right by: tsx --conditions=wgru-source test-support/doctest.ts fix <guide>
    expect(
      checkQuotes(root, GUIDE),
      `to renumber moved lines: node_modules/.bin/tsx --conditions=wgru-source test-support/doctest.ts fix ${GUIDE}`,
    ).toEqual([]);
  });
});

forEachBackend('doc examples run', (name) => {
  beforeAll(() => {
    // Examples print what they show; the test only needs them not to throw.
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    return () => {
      vi.restoreAllMocks();
    };
  });
  // An example may choose a backend or turn anomaly mode on: each starts from the same state.
  beforeEach(async () => {
    await setBackend(name);
    setAnomalyDetection(false);
  });

  for (const m of modules) {
    it(title(m.example), async () => {
      const mod = (await import(/* @vite-ignore */ m.path)) as { default: () => Promise<void> };
      await mod.default();
      expect(isGradEnabled()).toBe(true);
      expect(isAnomalyDetectionEnabled()).toBe(false);
    });
  }
});
