import { defineConfig } from 'vitest/config';
import { quietStream } from './scripts/quiet-dawn.mjs';

// The test workers' stderr reaches the terminal through this process's: drop Dawn's two
// "artificially reduced" warnings each worker would print (scripts/quiet-dawn.mjs says why).
quietStream(process.stderr);

// One suite for every package. WebGPU (Dawn) is a native addon: run test files in forked
// processes, with timeouts that fit a software adapter (Mesa's lavapipe) on a 2-core machine.
export default defineConfig({
  resolve: { conditions: ['wgru-source'] },
  ssr: { resolve: { conditions: ['wgru-source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['./test-support/global-setup.ts'],
    // Each test process says which test it is in, so one that dies is named (crash-witness.ts).
    setupFiles: ['./test-support/crash-witness.ts'],
    // The matmul autotuner's default ('cached') would read a table from the user's cache folder:
    // tests run the built-in plans unless they ask for tuning (matmul-tuning.test.ts).
    env: { WGRU_TUNING: 'off' },
    // CI asks for a JSON report beside the usual output (its counts make the closing line).
    reporters: process.env.WGRU_TEST_REPORT
      ? ['default', ['json', { outputFile: process.env.WGRU_TEST_REPORT }]]
      : ['default'],
  },
});
