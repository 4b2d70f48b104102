/**
 * @wgru/nn: modules, losses, optimizers, weight files, and the recurrent layers (GRU, LSTM, RNN)
 * written from primitive ops so that every gate's gradient comes from the tape.
 *
 * @example
 * ```ts
 * import { GRU, Linear, CrossEntropyLoss } from '@wgru/nn';
 * const gru = new GRU({ inputSize: 3, hiddenSize: 8, seed: 0 });
 * const head = new Linear(8, 3, { seed: 1 });
 * ```
 * @packageDocumentation
 */
export { type InitOptions, normalParameter, uniformParameter } from './init.js';
export { Dropout, LogSoftmax, Softmax } from './layers/activation.js';
export { Embedding } from './layers/embedding.js';
export { Linear, type LinearOptions } from './layers/linear.js';
export { CrossEntropyLoss, type CrossEntropyOptions, MSELoss, type MSEOptions, type Reduction } from './losses.js';
export { Module, Parameter, traceModule } from './module.js';
export { DEFAULT_OPSET, type ExportOnnxOptions, exportOnnx, type OnnxExampleInput } from './onnx/export.js';
export { GRU, GRUCell, type GRUCellOptions, type GRUOptions } from './rnn/gru.js';
export {
  type RecurrentCell,
  type RecurrentOptions,
  type RecurrentResult,
  runRecurrent,
  zeroState,
} from './rnn/recurrent.js';
export { Adam, type AdamOptions, AdamW } from './optim/adam.js';
export { clipGradNorm } from './optim/clip.js';
export { Optimizer } from './optim/optimizer.js';
export type { HyperValue, OptimizerStateDict, OptimizerStateDictInput, StateLayout } from './optim/state-dict.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export {
  DEFAULT_MAX_HEADER_BYTES,
  type DecodeOptions,
  decodeSafetensors,
  encodeSafetensors,
  type LoadSafetensorsOptions,
  loadSafetensors,
  type RawTensor,
  type SafeDType,
  saveSafetensors,
  saveSafetensorsSync,
} from './safetensors/index.js';
export type { GruLayout, HostArray, ShapedArray, WeightDict, WeightValue } from './importers/common.js';
export {
  fromKerasGRU,
  type KerasExportLayout,
  type KerasExportOptions,
  type KerasGRUOptions,
  type KerasGRUWeights,
  toKerasGRU,
} from './importers/keras.js';
export {
  type FromOnnxGRUOptions,
  fromOnnxGRU,
  type OnnxExportOptions,
  type OnnxGRUImport,
  type OnnxGRUWeights,
  type OnnxTensorInput,
  toOnnxGRUWeights,
} from './importers/onnx.js';
export {
  fromPyTorchGRU,
  fromPyTorchGRUCell,
  type PyTorchGRUCellOptions,
  type PyTorchGRUOptions,
  toPyTorchGRU,
  toPyTorchGRUCell,
} from './importers/pytorch.js';
export {
  LSTM,
  LSTMCell,
  type LSTMCellOptions,
  type LSTMInitialState,
  type LSTMOptions,
  type LSTMResult,
  type LSTMState,
} from './rnn/lstm.js';
export { RNN, RNNCell, type RNNCellOptions, type RNNOptions } from './rnn/rnn.js';
export { type CellSpec, RecurrentLayer } from './rnn/layer.js';
