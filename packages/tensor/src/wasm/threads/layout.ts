/**
 * The pool's control block: one SharedArrayBuffer with a slot per worker. The calling thread writes
 * a job into a worker's slot and bumps its `seq`; the worker, asleep in `Atomics.wait` on `seq`,
 * runs the job and writes `seq` into `done` (then `Atomics.notify`), which the caller waits on.
 *
 *     slot (int32 words):  seq | done | kernel | nargs | status | pad... | args as float64 [MAX_ARGS]
 *
 * Args travel as float64 so that both i32 addresses and f32 scalars arrive exact.
 */
export const MAX_ARGS = 24;
export const SEQ = 0;
export const DONE = 1;
export const KERNEL = 2;
export const NARGS = 3;
/** 0 ok, 1 the job threw (its message went to the calling thread through the message port). */
export const STATUS = 4;
/** Int32 words before the float64 args (a multiple of 2, so the args are 8-byte aligned). */
export const HEADER_WORDS = 16;
/** Bytes per slot, a multiple of 64 so that two workers never share a cache line. */
export const SLOT_BYTES = Math.ceil((HEADER_WORDS * 4 + MAX_ARGS * 8) / 64) * 64;
