/**
 * The last safety net for memory: a tensor that becomes unreachable without `dispose()` gives its
 * storage back when the garbage collector notices. Explicit disposal (or the tape, or `tidy`)
 * is still the way to keep memory tight.
 *
 * Registering with a FinalizationRegistry, and unregistering on dispose(), cost ~0.5 us per
 * tensor (measured: a [2, 2] add and dispose took 1.25 us of CPU registered at once, 0.57 us as
 * below), while most tensors of a training step are disposed before the step's synchronous code
 * ends. So a tensor is registered late: `watch` keeps it in a list, and the list is swept (the
 * tensors still live registered, the rest dropped) at the end of the current synchronous job (a
 * microtask) or once it holds `SWEEP_AT` tensors, whichever comes first. Nothing is lost by the
 * delay: a finalizer callback only ever runs in a later task, so storage of a tensor dropped
 * during a job could not come back before the job's end anyway; the list merely keeps the
 * tensors' small JavaScript objects alive until then (at most `SWEEP_AT` of them). It holds the
 * tensors only, never their storage: a disposed tensor lets go of its storage at once. (A list
 * that held the storage objects as well made nn/test/memory.test.ts's worker process exit, cause
 * not found, when the CPU, wasm and WebGPU runs shared it.)
 * @module
 */
import type { Backend, Storage } from './backend.js';

/** What the finalizer needs of a tensor. */
interface Handle {
  readonly disposed: boolean;
  readonly backend: Backend;
  readonly storage: Storage;
}

/**
 * A training step of the GRU benchmark (config 1) makes ~5,400 tensors, of which ~400 are still
 * live 4,096 tensors in, and 17 at its end: a list of this size is swept once per step.
 */
const SWEEP_AT = 16384;

/**
 * Makes a finalizer that calls `release(backend, storage)` for a watched handle collected
 * without `unwatch`.
 */
export function createFinalizer(release: (backend: Backend, storage: Storage) => void): {
  watch(handle: Handle): void;
  unwatch(handle: Handle): void;
} {
  const registry = new FinalizationRegistry<{ backend: Backend; storage: Storage }>(({ backend, storage }) =>
    release(backend, storage),
  );
  /** Handles not yet registered. */
  let young: Handle[] = [];
  const sweep = (): void => {
    const list = young;
    young = [];
    for (const handle of list)
      if (!handle.disposed) registry.register(handle, { backend: handle.backend, storage: handle.storage }, handle);
  };
  return {
    watch(handle) {
      if (young.push(handle) === 1) queueMicrotask(sweep);
      else if (young.length >= SWEEP_AT) sweep();
    },
    // unregistering a handle that was never registered is a cheap lookup (~20 ns)
    unwatch: (handle) => registry.unregister(handle),
  };
}
