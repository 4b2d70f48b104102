/**
 * End to end: the playground page in a real headless Chromium (Debian's package, driven by
 * playwright-core). Builds the page with Vite, serves it on a random localhost port, trains the
 * character-level GRU in the page's worker on WebGPU, and checks that the loss fell, text was
 * sampled, the gate heatmaps were drawn and a weights file saves and loads back. The screenshot
 * goes to packages/examples/out/playground.png.
 *
 * Skips (saying so) when there is no Chromium, unless WGRU_REQUIRE_BROWSER=1 (CI), where a missing
 * browser fails the test. Install one with `bash scripts/install-chromium.sh`.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildAndServe, CHROMIUM_PATH, launchChromium } from '../e2e/browser.js';

const hasChromium = existsSync(CHROMIUM_PATH);
const required = process.env.WGRU_REQUIRE_BROWSER === '1';
const SKIP_REASON =
  `skipped: no Chromium at ${CHROMIUM_PATH} (bash scripts/install-chromium.sh; ` +
  `WGRU_REQUIRE_BROWSER=1 makes this a failure)`;
if (!hasChromium && !required) console.warn(`playground e2e ${SKIP_REASON}`);

/** Training steps to wait for: enough for the loss to fall well below ln(vocab) ≈ 4. */
const STEPS = 40;
const SCREENSHOT = fileURLToPath(new URL('../out/playground.png', import.meta.url));

describe('playground page in headless Chromium', () => {
  // With WebGPU, and with WebGPU disabled (the worker then trains on the WebAssembly backend).
  it.skipIf(!hasChromium && !required).each([
    { backend: 'webgpu', label: 'WebGPU' },
    { backend: 'wasm', label: 'WebAssembly (WebGPU disabled)' },
  ])(
    `trains the GRU on $label in the page: loss falls, samples, gate heatmaps, ` +
      `save/load${hasChromium || required ? '' : ` (${SKIP_REASON})`}`,
    async ({ backend }) => {
      expect(
        hasChromium,
        `WGRU_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM_PATH}: run bash scripts/install-chromium.sh`,
      ).toBe(true);

      const served = await buildAndServe();
      // The browser bundle must not pull in Node built-ins or Dawn: the only mention of the
      // `webgpu` package is @wgru/tensor's dynamic import, which runs only in Node.
      for (const [file, code] of served.scripts) {
        expect(code, `${file} imports a Node built-in`).not.toMatch(
          /from\s*["'`]node:|import\(\s*["'`]node:|require\(/,
        );
        expect(code, `${file} imports Dawn statically`).not.toMatch(/from\s*["'`]webgpu["'`]/);
      }

      const browser = await launchChromium({ webgpu: backend === 'webgpu' });
      const problems: string[] = [];
      try {
        const page = browser.context.pages()[0] ?? (await browser.context.newPage());
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
        });
        await page.goto(served.url);

        // The worker reports the backend it got: WebGPU, or WebAssembly where WebGPU is off.
        await page.waitForSelector('#stats[data-backend]', { timeout: 20_000 });
        expect(await page.getAttribute('#stats', 'data-backend')).toBe(backend);
        expect(await page.textContent('#backend')).toMatch(backend === 'webgpu' ? /^WebGPU · / : /^WebAssembly SIMD/);
        // Without WebGPU the page says why it trains on WebAssembly.
        const fallbackNote = backend === 'webgpu' ? '' : await page.textContent('#error');
        if (backend === 'wasm') expect(fallbackNote).toMatch(/^Training on the WebAssembly backend: /);
        expect(page.workers().length, 'training runs in a Web Worker').toBeGreaterThanOrEqual(1);

        await page.waitForSelector('#start:not([disabled])');
        await page.click('#start');
        await page.waitForFunction(
          (n) => Number(document.querySelector('#stats')?.getAttribute('data-steps') ?? 0) >= n,
          STEPS,
          {
            timeout: 45_000,
            polling: 250,
          },
        );
        await page.click('#start'); // pause
        await page.waitForFunction(() => document.querySelector('#start')?.textContent === 'Start');

        const num = async (selector: string, attr: string): Promise<number> =>
          Number(await page.getAttribute(selector, attr));
        const first = await num('#stats', 'data-first-loss');
        const recent = await num('#stats', 'data-recent-loss');
        expect(first).toBeGreaterThan(3); // about ln(vocab) for a fresh model
        expect(recent, `loss fell from ${first.toFixed(3)} to ${recent.toFixed(3)}`).toBeLessThan(first - 0.5);

        expect(await num('#samples', 'data-count')).toBeGreaterThanOrEqual(1);
        const sample = (await page.textContent('#samples li:first-child')) ?? '';
        expect(sample.length, `sample: ${sample}`).toBeGreaterThan(100);
        expect(await num('#gates-z', 'data-step')).toBeGreaterThanOrEqual(1);
        expect(await num('#gates-r', 'data-step')).toBeGreaterThanOrEqual(1);
        expect(await num('#grad-flow', 'data-step')).toBeGreaterThanOrEqual(1);
        // Not a proof of responsiveness, but a frozen page would show seconds here.
        expect(await num('#stats', 'data-max-lag')).toBeLessThan(3000);

        // Gates for a typed string.
        await page.fill('#gate-text', 'The Lion and the Mouse');
        await page.waitForFunction(
          () => document.querySelector('#gates-z')?.getAttribute('data-text') === 'The Lion and the Mouse',
          null,
          { timeout: 20_000 },
        );
        // The gradient through time for the typed string: a bar for every character but the last.
        expect(await page.getAttribute('#grad-flow', 'data-text')).toBe('The Lion and the Mouse');
        expect(await num('#grad-flow', 'data-bars')).toBe('The Lion and the Mouse'.length - 1);

        expect(await page.textContent('#error')).toBe(fallbackNote);
        mkdirSync(fileURLToPath(new URL('../out/', import.meta.url)), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });

        // Save the weights as a safetensors download, then load them back through the file input.
        const samplesBefore = await num('#samples', 'data-count');
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
        expect(download.suggestedFilename()).toMatch(/^wgru-playground-h64-step\d+\.safetensors$/);
        const saved = await download.path();
        const bytes = readFileSync(saved);
        const headerLength = Number(bytes.readBigUInt64LE(0));
        const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
        expect(Object.keys(header)).toEqual(
          expect.arrayContaining(['embed.weight', 'gru.l0.W', 'gru.l0.U', 'gru.l0.b', 'head.W', 'head.b']),
        );
        await page.setInputFiles('#load', saved);
        await page.waitForFunction(() => document.querySelector('#model-info')?.textContent?.includes('loaded'), null, {
          timeout: 20_000,
        });
        // The loaded model samples again.
        await page.waitForFunction(
          (n) => Number(document.querySelector('#samples')?.getAttribute('data-count')) > n,
          samplesBefore,
          { timeout: 20_000 },
        );
        expect(Number(await page.textContent('#step')), 'the step count travels in the file').toBeGreaterThanOrEqual(
          STEPS,
        );

        expect(await page.textContent('#error')).toBe(fallbackNote);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
        await served.close();
      }
    },
    90_000,
  );
});
