/**
 * The pool's control block, one SharedArrayBuffer: a job line, then a slot per worker.
 *
 *     job (int32 words):   next chunk | chunk count | pad to 64 bytes
 *     slot (int32 words):  state | asleep | waiting | kernel | nargs | status | pad... | args as float64 [MAX_ARGS]
 *
 * A job is a kernel called once per chunk, `fn(chunk, thread, ...args)`; every thread on it takes
 * the next chunk with `Atomics.add` on `next chunk` until none is left, so a thread that starts late
 * simply takes fewer (or none). The calling thread offers the job to a worker by writing the slot
 * and setting its state from IDLE to PENDING; the worker claims it (PENDING -> RUNNING, a
 * compare-and-swap), runs chunks, and sets IDLE. When the caller has run out of chunks, it takes
 * back an offer no worker has claimed (PENDING -> IDLE, the same swap), and waits only for the
 * workers that are RUNNING. A worker that is late to wake therefore costs nothing but its share.
 *
 * Waiting is a spin first, then `Atomics.wait` on `state`; each side says when it sleeps
 * (`asleep` for a worker waiting for a job, `waiting` for the caller waiting for a worker), so
 * that the other calls `Atomics.notify` (a system call) only then. Args travel as float64 so that
 * both i32 addresses and f32 scalars arrive exact.
 */
export const MAX_ARGS = 24;
/** Bytes of the job line. */
export const JOB_BYTES = 64;
export const NEXT_CHUNK = 0;
export const CHUNK_COUNT = 1;
export const STATE = 0;
export const ASLEEP = 1;
export const WAITING = 2;
export const KERNEL = 3;
export const NARGS = 4;
/** 0 ok, 1 the job threw (its message went to the calling thread through the message port). */
export const STATUS = 5;
/** Values of `state`. */
export const IDLE = 0;
export const PENDING = 1;
export const RUNNING = 2;
/** Int32 words before the float64 args (a multiple of 2, so the args are 8-byte aligned). */
export const HEADER_WORDS = 16;
/** Bytes per slot, a multiple of 64 so that two workers never share a cache line. */
export const SLOT_BYTES = Math.ceil((HEADER_WORDS * 4 + MAX_ARGS * 8) / 64) * 64;
/**
 * How long each side spins before it sleeps, in ms: a worker after a job (the next one of a
 * training step comes within tens of microseconds), the caller for a worker's last chunk. Waking a
 * sleeping thread costs 25-50 us on this VM, as long as a whole 1.5M-MAC product; a spinning one
 * starts within a microsecond.
 */
export const SPIN_MS = 2;
/**
 * A spinning worker that sees this long a gap between two looks at the clock has lost its core to
 * another thread (a garbage collector's helper, another process), so it stops spinning for
 * NO_SPIN_MS: on a busy machine it then sleeps after every job, as a spin would take time from
 * threads that have work (measured, GRU training B=32 beside another busy process: 2x slower with
 * an unconditional 2 ms spin). On a quiet one this happens about once a training step; a longer
 * pause (1 s) left the worker asleep for most small products.
 */
export const PREEMPTED_MS = 0.2;
export const NO_SPIN_MS = 5;
