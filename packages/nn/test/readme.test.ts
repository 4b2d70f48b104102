/**
 * Every ```ts block of the README runs as written. Each is a whole program: it is written to a
 * module with nothing but its own import lines (test-support/doctest.ts, `ownImportsOnly`),
 * typechecked (strict) and run on every backend, and must print its loss. The first one also runs
 * the way the README tells a user to run it, `pnpm run-ts train.ts`, in a child process: it must
 * print its losses, and its stderr must be the one line that says which backend was picked.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setBackend } from '@wgru/tensor';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import {
  extractMarkdownExamples,
  loadExports,
  typecheckExamples,
  writeExampleModule,
} from '../../../test-support/doctest.js';

const root = path.resolve(import.meta.dirname, '../../..');
const outDir = path.join(import.meta.dirname, '.doc-examples', `readme-${process.pid}`);
const blocks = extractMarkdownExamples(root, 'README.md', { every: true });
const exportTables = loadExports(root);
const modules = blocks.map((b, i) =>
  writeExampleModule(root, b, exportTables, path.join(outDir, `readme-${i}.ts`), { ownImportsOnly: true }),
);
const title = (i: number): string => `README.md:${blocks[i]?.line} (${blocks[i]?.symbol})`;

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe('README code blocks', () => {
  it('are found: the training loop and the memory loop', () => {
    expect(blocks.map((b) => b.symbol)).toEqual(['Training, in ten lines', 'Memory']);
  });

  it('typecheck (strict) with only the imports they show', () => {
    expect(typecheckExamples(root, modules, exportTables)).toEqual([]);
  });

  it('the training block runs with `pnpm run-ts train.ts`: losses on stdout, one line on stderr', () => {
    const file = path.join(outDir, 'train.ts');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(file, blocks[0]?.code ?? '');
    const r = spawnSync('pnpm', ['--silent', 'run-ts', file], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^step 100: loss \d\.\d{4}$/m);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^wgru: using (webgpu|wasm|cpu)/)]);
  });
});

forEachBackend('README code blocks run as written', (name) => {
  let printed: string[] = [];
  beforeAll(() => {
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    });
    return () => {
      vi.restoreAllMocks();
    };
  });

  modules.forEach((m, i) => {
    it(title(i), async () => {
      await setBackend(name);
      printed = [];
      const mod = (await import(/* @vite-ignore */ m.path)) as { default: () => Promise<void> };
      await mod.default();
      const losses = printed.flatMap((l) => [...l.matchAll(/loss (\d+\.\d+)/g)].map((x) => Number(x[1])));
      expect(losses.length, printed.join('\n')).toBeGreaterThan(0);
      // Both tasks are learnable: the last loss printed is below the first.
      expect(losses.at(-1) as number).toBeLessThan(losses[0]);
    });
  });
});
