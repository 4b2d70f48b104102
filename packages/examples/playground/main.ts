/**
 * The playground page: controls, the loss curve, samples and the gate heatmaps. All tensor work
 * happens in ./worker.ts; this thread only sends commands and draws what comes back, so it stays
 * responsive while the model trains (the "UI lag" figure measures that).
 *
 * For the end-to-end test, #stats carries data-steps, data-first-loss and data-recent-loss (mean
 * of the first and of the latest five batch losses), data-backend and data-max-lag; #samples
 * data-count; each heatmap canvas data-step and data-text once drawn.
 * @module
 */
import { drawGateHeatmap, drawGradientThroughTime, drawLossCurve } from './charts.js';
import type { FromWorker, ModelConfig, ToWorker } from './protocol.js';

function byId<T extends HTMLElement | SVGElement>(id: string, type: abstract new (...args: never[]) => T): T {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`playground: #${id} is missing or not a ${type.name}`);
  return e;
}

const ui = {
  backend: byId('backend', HTMLElement),
  start: byId('start', HTMLButtonElement),
  hidden: byId('hidden', HTMLSelectElement),
  lr: byId('lr', HTMLInputElement),
  temperature: byId('temperature', HTMLInputElement),
  temperatureValue: byId('temperature-value', HTMLOutputElement),
  reset: byId('reset', HTMLButtonElement),
  save: byId('save', HTMLButtonElement),
  load: byId('load', HTMLInputElement),
  stats: byId('stats', HTMLElement),
  step: byId('step', HTMLElement),
  loss: byId('loss', HTMLElement),
  msPerStep: byId('ms-per-step', HTMLElement),
  gradNorm: byId('grad-norm', HTMLElement),
  modelInfo: byId('model-info', HTMLElement),
  memory: byId('memory', HTMLElement),
  uiLag: byId('ui-lag', HTMLElement),
  error: byId('error', HTMLElement),
  lossChart: byId('loss-chart', SVGSVGElement),
  samples: byId('samples', HTMLOListElement),
  gateText: byId('gate-text', HTMLInputElement),
  gatesZ: byId('gates-z', HTMLCanvasElement),
  gatesR: byId('gates-r', HTMLCanvasElement),
  gradFlow: byId('grad-flow', HTMLCanvasElement),
};

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'wgru-trainer' });
const send = (message: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(message, transfer);

let losses: number[] = [];
/** ln(vocabulary size): the loss of a model that guesses uniformly. */
let uniformLoss: number | undefined;
let running = false;
let chartQueued = false;
const MAX_SAMPLES = 12;

const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;

function config(): ModelConfig {
  return { hiddenSize: Number(ui.hidden.value), learningRate: learningRate() };
}

function learningRate(): number {
  const lr = Number(ui.lr.value);
  return Number.isFinite(lr) && lr > 0 ? lr : 0.01;
}

function showError(message: string): void {
  ui.error.hidden = false;
  ui.error.textContent = message;
}

/** The chart is redrawn at most once per animation frame, however fast steps arrive. */
function queueChart(): void {
  if (chartQueued) return;
  chartQueued = true;
  requestAnimationFrame(() => {
    chartQueued = false;
    drawLossCurve(ui.lossChart, losses, uniformLoss);
  });
}

function setRunningUi(on: boolean): void {
  running = on;
  ui.start.textContent = on ? 'Pause' : 'Start';
  ui.start.classList.toggle('running', on);
}

function addSample(step: number, temperature: number, prompt: string, text: string): void {
  const li = document.createElement('li');
  li.className = 'sample';
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `step ${step} · temperature ${temperature.toFixed(2)}`;
  const strong = document.createElement('b');
  strong.textContent = prompt;
  li.append(meta, strong, document.createTextNode(text));
  ui.samples.prepend(li);
  while (ui.samples.children.length > MAX_SAMPLES) ui.samples.lastElementChild?.remove();
  ui.samples.dataset.count = String(Number(ui.samples.dataset.count ?? 0) + 1);
}

function download(bytes: Uint8Array<ArrayBuffer>, fileName: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function onMessage(msg: FromWorker): void {
  switch (msg.type) {
    case 'ready': {
      const b = msg.backend;
      uniformLoss = Math.log(msg.vocab.length);
      ui.stats.dataset.backend = b.name;
      ui.backend.classList.remove('pending');
      ui.backend.classList.add(b.name);
      ui.backend.textContent =
        b.name === 'webgpu'
          ? `WebGPU · ${b.adapter || 'adapter'}${b.featureLevel === 'compatibility' ? ' (compatibility)' : ''}`
          : b.name === 'wasm'
            ? 'WebAssembly SIMD (no WebGPU adapter)'
            : 'CPU fallback (no WebGPU adapter)';
      ui.backend.title =
        `backend() in the worker: ` +
        `${b.name}${b.adapter ? `, ${b.adapter}` : ''}${b.featureLevel ? `, feature level ${b.featureLevel}` : ''}`;
      if (b.fallbackReason)
        showError(`Training on the ${b.name === 'wasm' ? 'WebAssembly' : 'CPU'} backend: ${b.fallbackReason}.`);
      for (const c of [ui.start, ui.reset, ui.save, ui.load]) c.disabled = false;
      send({ type: 'temperature', value: Number(ui.temperature.value) });
      send({ type: 'gateText', text: ui.gateText.value });
      send({ type: 'reset', config: config() });
      break;
    }
    case 'model':
      losses = [];
      queueChart();
      ui.step.textContent = String(msg.step);
      ui.loss.textContent = '–';
      ui.hidden.value = String(msg.hiddenSize);
      ui.modelInfo.textContent =
        `${msg.parameters.toLocaleString('en')} parameters · hidden ${msg.hiddenSize} ` +
        `· embedding ${msg.embedDim} · ${msg.source}`;
      ui.stats.dataset.steps = '0';
      break;
    case 'state':
      setRunningUi(msg.running);
      break;
    case 'progress': {
      losses.push(msg.loss);
      ui.step.textContent = String(msg.step);
      ui.loss.textContent = msg.loss.toFixed(3);
      ui.msPerStep.textContent = msg.msPerStep.toFixed(0);
      ui.gradNorm.textContent = msg.gradNorm.toFixed(2);
      ui.memory.textContent = `${msg.liveTensors} tensors · ${(msg.deviceBytes / 2 ** 20).toFixed(1)} MiB`;
      ui.stats.dataset.steps = String(losses.length);
      ui.stats.dataset.firstLoss = String(mean(losses.slice(0, 5)));
      ui.stats.dataset.recentLoss = String(mean(losses.slice(-5)));
      queueChart();
      break;
    }
    case 'sample':
      addSample(msg.step, msg.temperature, msg.prompt, msg.text);
      break;
    case 'gates':
      drawGateHeatmap(ui.gatesZ, `update gate z · step ${msg.step}`, msg.text, msg.z, msg.hiddenSize);
      drawGateHeatmap(ui.gatesR, `reset gate r · step ${msg.step}`, msg.text, msg.r, msg.hiddenSize);
      drawGradientThroughTime(
        ui.gradFlow,
        `gradient through time ‖∂L/∂h_t‖ for predicting "${msg.text.slice(-1)}" · step ${msg.step}`,
        msg.text,
        msg.gradNorm,
      );
      // How many of the text's states got a finite, non-zero gradient (the e2e test reads it).
      ui.gradFlow.dataset.bars = String(msg.gradNorm.filter((n) => Number.isFinite(n) && n > 0).length);
      for (const canvas of [ui.gatesZ, ui.gatesR, ui.gradFlow]) {
        canvas.dataset.step = String(msg.step);
        canvas.dataset.text = msg.text;
      }
      break;
    case 'saved':
      download(msg.bytes, msg.fileName);
      break;
    case 'error':
      showError(msg.message);
      break;
  }
}

worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(event.data);
worker.onerror = (event) => showError(`worker: ${event.message || 'failed to start'}`);

ui.start.addEventListener('click', () => send({ type: running ? 'pause' : 'start' }));
ui.reset.addEventListener('click', () => send({ type: 'reset', config: config() }));
ui.hidden.addEventListener('change', () => send({ type: 'reset', config: config() }));
ui.lr.addEventListener('change', () => send({ type: 'learningRate', value: learningRate() }));
ui.temperature.addEventListener('input', () => {
  ui.temperatureValue.textContent = Number(ui.temperature.value).toFixed(2);
});
ui.temperature.addEventListener('change', () => send({ type: 'temperature', value: Number(ui.temperature.value) }));
let gateTimer: ReturnType<typeof setTimeout> | undefined;
ui.gateText.addEventListener('input', () => {
  clearTimeout(gateTimer);
  gateTimer = setTimeout(() => send({ type: 'gateText', text: ui.gateText.value }), 250);
});
ui.save.addEventListener('click', () => send({ type: 'save' }));
ui.load.addEventListener('change', async () => {
  const file = ui.load.files?.[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  ui.load.value = '';
  send({ type: 'load', bytes, fileName: file.name }, [bytes.buffer]);
});

/** Main-thread responsiveness: the largest lateness of a 100 ms timer over the last 5 s. */
function watchLag(): void {
  const lags: number[] = [];
  let expected = performance.now() + 100;
  setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - expected));
    if (lags.length > 50) lags.shift();
    expected = now + 100;
    const worst = Math.max(...lags);
    ui.uiLag.textContent = worst.toFixed(0);
    ui.stats.dataset.maxLag = String(worst);
  }, 100);
}

drawLossCurve(ui.lossChart, losses);
watchLag();
