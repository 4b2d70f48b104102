/**
 * Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
 * counter-based generator. Element i of a random tensor is a pure function of (seed, i), so the
 * CPU backend and the WGSL kernel produce the same bits, whatever order they run in. This is the
 * CPU side; the WGSL side (webgpu/random.ts) is written independently from the same definition.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High and low 32 bits of the 64-bit product of two u32s (no BigInt: 16-bit halves). */
function mulhilo(a: number, b: number): [number, number] {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
  const lo = Math.imul(a, b) >>> 0;
  return [hi, lo];
}

/** The four 32-bit words Philox-4x32-10 gives for counter (c0, 0, 0, 0) under key (k0, k1). */
export function philox4x32(c0: number, k0: number, k1: number): [number, number, number, number] {
  let x0 = c0 >>> 0;
  let x1 = 0;
  let x2 = 0;
  let x3 = 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(M0, x0);
    const [hi1, lo1] = mulhilo(M1, x2);
    const y0 = (hi1 ^ x1 ^ key0) >>> 0;
    const y2 = (hi0 ^ x3 ^ key1) >>> 0;
    x0 = y0;
    x1 = lo1;
    x2 = y2;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  return [x0, x1, x2, x3];
}

/** Splits a seed (a non-negative safe integer) into Philox's two key words. */
export function seedKey(seed: number): [number, number] {
  return [seed >>> 0, Math.floor(seed / 4294967296) >>> 0];
}

/** Uniform in [0, 1) with 24 random bits: exact in float32 and float64 alike. */
export function uniformFromBits(w: number): number {
  return (w >>> 8) * 2 ** -24;
}

/** A standard normal from two words by Box–Muller (u1 in (0, 1], so the log is finite). */
export function normalFromBits(w0: number, w1: number): number {
  const u1 = ((w0 >>> 8) + 1) * 2 ** -24;
  const u2 = (w1 >>> 8) * 2 ** -24;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
