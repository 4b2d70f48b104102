/**
 * Helpers for the playground's end-to-end test: build the page with Vite and serve the bundle on
 * a random localhost port, and start Debian's Chromium (never a downloaded browser) through
 * playwright-core with WebGPU enabled.
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';
import { build, preview } from 'vite';

/** Debian's `chromium` package (scripts/install-chromium.sh); WGRU_CHROMIUM overrides. */
export const CHROMIUM_PATH = process.env.WGRU_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Chromium's flags. WebGPU in headless Chromium on Linux is behind --enable-unsafe-webgpu (without
 * it requestAdapter() returns null); it then runs on Chromium's own SwiftShader adapter. The rest
 * keeps a sandboxed machine quiet: no QUIC, no first-run UI, and no background connections that a
 * closed network would refuse by the dozen.
 */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CONFIG_FILE = fileURLToPath(new URL('../vite.config.ts', import.meta.url));

/** A running static server of the built page. */
export interface ServedPage {
  url: string;
  /** The emitted JavaScript, file name -> code, for checks on what was bundled. */
  scripts: Map<string, string>;
  close(): Promise<void>;
}

/** Builds the playground into a temporary folder and serves it on 127.0.0.1 at a random port. */
export async function buildAndServe(): Promise<ServedPage> {
  const outDir = mkdtempSync(join(tmpdir(), 'wgru-playground-'));
  const inline = {
    configFile: CONFIG_FILE,
    logLevel: 'warn' as const,
    build: { outDir, emptyOutDir: true, sourcemap: false },
  };
  await build(inline);
  const assets = join(outDir, 'assets');
  const scripts = new Map(
    readdirSync(assets)
      .filter((f) => f.endsWith('.js'))
      .map((f) => [f, readFileSync(join(assets, f), 'utf8')] as const),
  );
  const server = await preview({ ...inline, preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview: no local URL');
  return {
    url,
    scripts,
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** A headless Chromium with a fresh, throwaway profile. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** `webgpu: false` launches Chromium without WebGPU (navigator.gpu gives no adapter). */
export async function launchChromium({ webgpu = true }: { webgpu?: boolean } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'wgru-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: webgpu ? CHROMIUM_ARGS : [...CHROMIUM_ARGS.filter((f) => f !== '--enable-unsafe-webgpu'), '--disable-webgpu'],
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
