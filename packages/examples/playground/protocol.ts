/**
 * The messages between the page (main.ts) and the training worker (worker.ts). The page never
 * touches a tensor: it sends commands and draws what the worker reports.
 * @module
 */

/** What the user can choose before (re)starting a model. */
export interface ModelConfig {
  hiddenSize: number;
  learningRate: number;
}

/** The backend the worker trains on, as `backend()` from @wgru/tensor describes it. */
export interface BackendSummary {
  name: 'webgpu' | 'wasm' | 'cpu';
  /** Adapter vendor / architecture / description (WebGPU only). */
  adapter: string;
  featureLevel: string;
  /** Why WebGPU was not used, when the worker fell back to the WebAssembly backend. */
  fallbackReason?: string;
}

/** Commands from the page to the worker. */
export type ToWorker =
  | { type: 'start' }
  | { type: 'pause' }
  /** A fresh model with these settings (training pauses). */
  | { type: 'reset'; config: ModelConfig }
  /** Changes the learning rate of the running optimizer. */
  | { type: 'learningRate'; value: number }
  | { type: 'temperature'; value: number }
  /** The string whose update/reset gates the heatmap shows. */
  | { type: 'gateText'; text: string }
  | { type: 'save' }
  /** Replaces the model by the weights in a safetensors file. */
  | { type: 'load'; bytes: Uint8Array; fileName: string };

/** Reports from the worker to the page. */
export type FromWorker =
  | { type: 'ready'; backend: BackendSummary; corpusChars: number; vocab: string }
  | {
      type: 'model';
      hiddenSize: number;
      embedDim: number;
      parameters: number;
      learningRate: number;
      step: number;
      source: string;
    }
  | { type: 'state'; running: boolean }
  | {
      type: 'progress';
      step: number;
      loss: number;
      gradNorm: number;
      msPerStep: number;
      liveTensors: number;
      deviceBytes: number;
    }
  | { type: 'sample'; step: number; temperature: number; prompt: string; text: string }
  /**
   * z and r, each [text.length, hiddenSize] row-major, in [0, 1]; gradNorm [text.length − 1]:
   * ‖∂L/∂h_t‖ for the prediction of the text's last character.
   */
  | {
      type: 'gates';
      step: number;
      text: string;
      hiddenSize: number;
      z: Float32Array;
      r: Float32Array;
      gradNorm: Float32Array;
    }
  | { type: 'saved'; bytes: Uint8Array<ArrayBuffer>; fileName: string }
  | { type: 'error'; message: string };
