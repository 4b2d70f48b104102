/**
 * Two V8 settings the wasm backend asks for in Node, once, when it starts (browsers keep their own):
 *
 * - **No baseline tier.** V8 compiles a WebAssembly function with its baseline compiler (Liftoff)
 *   first and with its optimising one (TurboFan) only once the function has run a while, in a
 *   background thread. The backend's kernels are small, called often, and 5-10x slower in baseline
 *   code (measured: the sgemm at 256^3 ran at 1.9 GFLOP/s before tier-up and 17.7 after), and on a
 *   busy machine the tier-up came late. So modules compiled after this call skip the baseline tier
 *   (`--no-liftoff`; `WGRU_WASM_LIFTOFF=1` keeps it).
 * - **Relaxed SIMD**, for the matmul's fused multiply-add (`f32x4.relaxed_madd`: one instruction
 *   where 128-bit SIMD otherwise needs a multiply and an add). Node 20's V8 implements it but
 *   validates it only behind `--experimental-wasm-relaxed-simd`; later engines have it on. The flag
 *   is set only where a module using it does not validate yet (`WGRU_WASM_FMA=0` leaves it off, and
 *   the matmul then multiplies and adds). Measured, sgemm 1024^3 on one thread of this machine:
 *   see matmul/microkernel.ts.
 * @module
 */
import { relaxedSimdAvailable } from './matmul/module.js';

let done = false;

export async function setWasmFlags(): Promise<void> {
  if (done) return;
  done = true;
  if (!globalThis.process?.versions?.node) return;
  // Kept out of bundlers' sight: node:v8 exists only in Node.
  const name = 'node:v8';
  const v8 = (await import(/* @vite-ignore */ name)) as { setFlagsFromString(flags: string): void };
  if (process.env.WGRU_WASM_LIFTOFF !== '1') v8.setFlagsFromString('--no-liftoff');
  if (process.env.WGRU_WASM_FMA !== '0' && !relaxedSimdAvailable()) {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  }
}
