/**
 * The training worker: owns the WebGPU device (navigator.gpu exists in dedicated workers), the
 * model and the optimizer, so that the page's main thread only draws. Every piece of work on the
 * model (a training step, a sample, the gate maps, save, load, reset) runs through one queue, one
 * at a time; while training, the next step is queued behind a macrotask, so commands from the page
 * are handled between steps.
 * @module
 */
import { backend, memory, setBackend } from '@wgru/tensor';
import { CORPUS } from './corpus.js';
import { Trainer, trainerFromFile, Vocab } from './model.js';
import type { BackendSummary, FromWorker, ModelConfig, ToWorker } from './protocol.js';

/** The part of DedicatedWorkerGlobalScope used here (the page's tsconfig has the DOM types). */
interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

/** Sample and gate maps are refreshed at most this often while training. */
const REFRESH_MS = 1500;
const SAMPLE_PROMPT = 'The ';
const SAMPLE_LENGTH = 160;

const vocab = new Vocab(CORPUS);
let trainer: Trainer | null = null;
let running = false;
let temperature = 0.8;
let gateText = 'The Fox and the Grapes';
let lastRefresh = 0;
/** Wall time of recent steps, for ms/step. */
let stepStarted = 0;

/** The one queue every use of the model goes through. */
let queue: Promise<void> = Promise.resolve();
function enqueue(task: () => Promise<void>): void {
  queue = queue.then(task).catch((e: unknown) => {
    running = false;
    post({ type: 'state', running });
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  });
}

function current(): Trainer {
  if (!trainer) throw new Error('no model yet');
  return trainer;
}

function announceModel(t: Trainer, source: string): void {
  post({
    type: 'model',
    hiddenSize: t.model.hiddenSize,
    embedDim: t.model.embed.dim,
    parameters: t.model.numParameters(),
    learningRate: t.learningRate,
    step: t.step,
    source,
  });
}

function replaceTrainer(next: Trainer, source: string): void {
  trainer?.dispose();
  trainer = next;
  announceModel(next, source);
}

async function postSample(): Promise<void> {
  const t = trainer;
  if (!t) return;
  const text = await t.sample(SAMPLE_PROMPT, SAMPLE_LENGTH, temperature);
  post({ type: 'sample', step: t.step, temperature, prompt: SAMPLE_PROMPT, text });
}

async function postGates(): Promise<void> {
  const t = trainer;
  if (!t) return;
  const text = gateText;
  const { z, r } = await t.gates(text);
  const gradNorm = await t.gradientThroughTime(text);
  post({ type: 'gates', step: t.step, text, hiddenSize: t.model.hiddenSize, z, r, gradNorm }, [
    z.buffer,
    r.buffer,
    gradNorm.buffer,
  ]);
}

async function refreshViews(): Promise<void> {
  await postSample();
  await postGates();
  lastRefresh = performance.now();
}

/** One training step, then the views when due, then the next step behind a macrotask. */
async function trainTick(): Promise<void> {
  if (!running) return;
  const t = current();
  const started = performance.now();
  const { loss, gradNorm } = await t.trainStep();
  const now = performance.now();
  const { liveTensors, bytesInUse, bytesPooled } = memory();
  post({
    type: 'progress',
    step: t.step,
    loss,
    gradNorm,
    msPerStep: now - (stepStarted || started),
    liveTensors,
    deviceBytes: bytesInUse + bytesPooled,
  });
  stepStarted = now;
  if (t.step === 1 || now - lastRefresh >= REFRESH_MS) await refreshViews();
  // setTimeout, not a microtask: lets the page's commands in before the next step, and lets the
  // WebGPU queue drain (the step above also awaits its loss): the worker never queues without yielding.
  setTimeout(() => enqueue(trainTick), 0);
}

function setRunning(on: boolean): void {
  if (running === on) return;
  running = on;
  stepStarted = 0;
  post({ type: 'state', running });
  if (on) enqueue(trainTick);
  else enqueue(refreshViews); // show where the model got to
}

function handle(msg: ToWorker): void {
  switch (msg.type) {
    case 'start':
      setRunning(true);
      break;
    case 'pause':
      setRunning(false);
      break;
    case 'reset':
      setRunning(false);
      enqueue(async () => {
        replaceTrainer(newTrainer(msg.config), 'fresh weights');
        await refreshViews();
      });
      break;
    case 'learningRate':
      enqueue(async () => {
        current().learningRate = msg.value;
      });
      break;
    case 'temperature':
      temperature = msg.value;
      if (!running) enqueue(postSample);
      break;
    case 'gateText':
      gateText = msg.text;
      if (!running) enqueue(postGates);
      break;
    case 'save':
      enqueue(async () => {
        const t = current();
        const bytes = await t.save();
        post({ type: 'saved', bytes, fileName: `wgru-playground-h${t.model.hiddenSize}-step${t.step}.safetensors` }, [
          bytes.buffer,
        ]);
      });
      break;
    case 'load':
      setRunning(false);
      enqueue(async () => {
        replaceTrainer(
          trainerFromFile(msg.bytes, vocab, CORPUS, trainer?.learningRate ?? 0.01),
          `loaded ${msg.fileName}`,
        );
        await refreshViews();
      });
      break;
  }
}

function newTrainer(config: ModelConfig): Trainer {
  return new Trainer(vocab, CORPUS, { hiddenSize: config.hiddenSize, learningRate: config.learningRate, seed: 0 });
}

/** WebGPU when the browser gives an adapter; otherwise the WebAssembly backend, saying why. */
async function chooseBackend(): Promise<BackendSummary> {
  let fallbackReason: string | undefined;
  try {
    await setBackend('webgpu');
  } catch {
    fallbackReason =
      'gpu' in navigator
        ? 'navigator.gpu.requestAdapter() gave no adapter (headless Chromium on Linux needs --enable-unsafe-webgpu)'
        : 'this browser has no navigator.gpu (WebGPU needs a browser that ships it, and a secure context: https ' +
          'or localhost)';
    await setBackend('wasm');
  }
  const info = backend();
  const a = info.adapter;
  return {
    name: info.name,
    adapter: a ? [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') : '',
    featureLevel: info.featureLevel ?? '',
    ...(fallbackReason === undefined ? {} : { fallbackReason }),
  };
}

scope.onmessage = (event) => handle(event.data);

enqueue(async () => {
  const summary = await chooseBackend();
  post({ type: 'ready', backend: summary, corpusChars: CORPUS.length, vocab: vocab.chars.join('') });
});
