/**
 * V8 compiles a WebAssembly function with its baseline compiler (Liftoff) first and with its
 * optimising one (TurboFan) only once the function has run a while, in a background thread. The
 * backend's kernels are small, called often, and 5-10x slower in baseline code (measured: the
 * sgemm at 256^3 ran at 1.9 GFLOP/s before tier-up and 17.7 after), and on a busy machine the
 * tier-up came late. In Node, therefore, modules compiled after this call skip the baseline tier
 * (`--no-liftoff`, set once when the backend starts). Browsers keep their own policy.
 * @module
 */
let done = false;

export async function preferOptimizedWasm(): Promise<void> {
  if (done) return;
  done = true;
  if (!globalThis.process?.versions?.node || process.env.WGRU_WASM_LIFTOFF === '1') return;
  // Kept out of bundlers' sight: node:v8 exists only in Node.
  const name = 'node:v8';
  const v8 = (await import(/* @vite-ignore */ name)) as { setFlagsFromString(flags: string): void };
  v8.setFlagsFromString('--no-liftoff');
}
