/**
 * Vite config of the playground page (./playground): `pnpm playground` serves it on localhost,
 * `pnpm build:playground` bundles it into out/playground-dist.
 *
 * - The @wgru packages export their TypeScript source under the 'wgru-source' condition, so the
 *   page is built from source, with no prior `tsc -b`.
 * - ES2022 everywhere: @wgru/tensor probes for an adapter with a top-level await, in the page's
 *   worker as in Node, so the worker is an ES module worker too.
 * - Dawn (the `webgpu` package) is only ever imported in Node, through a dynamic import the
 *   bundler is told to leave alone; in the browser, @wgru/tensor uses navigator.gpu.
 * - Served cross-origin isolated (COOP/COEP), so that the wasm backend can share its memory.
 */
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('./playground'),
  base: './',
  clearScreen: false,
  resolve: { conditions: ['wgru-source', ...defaultClientConditions] },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: here('./out/playground-dist'),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  // Cross-origin isolation, so that the wasm backend's memory can be a SharedArrayBuffer.
  server: { host: '127.0.0.1', port: 5173, headers: ISOLATION },
  preview: { host: '127.0.0.1', headers: ISOLATION },
});
