/**
 * Finds the GRU nodes of an ONNX graph that make one multi-layer GRU, in layer order.
 *
 * An ONNX GRU node is one layer. `torch.onnx.export` of an `nn.GRU(num_layers=L)` writes L GRU
 * nodes, each layer's input made from the previous layer's output Y [T, D, B, H]:
 *
 * ```
 * one direction:   Y → Squeeze(axis 1)                           → [T, B, H]    → next GRU's X
 * bidirectional:   Y → Transpose(perm 0, 2, 1, 3) → Reshape(0, 0, −1) → [T, B, 2H] → next GRU's X
 * ```
 *
 * which is exactly how wgru's GRU feeds layer k + 1 (the directions' outputs concatenated along
 * the features). A chain is found by following each GRU's X back through those ops to the Y of
 * another GRU; anything else between two GRUs (another transpose, an activation) is not a stacked
 * GRU, and the caller is asked to pick one node.
 */
import type { OnnxModel, OnnxNode } from '../onnx/read.js';

/** The ops that may sit between layers, and what each must look like. */
const BETWEEN_LAYERS: Record<string, (n: OnnxNode) => boolean> = {
  Squeeze: (n) => n.attributes.axes === undefined || String(n.attributes.axes) === '1',
  Transpose: (n) => String(n.attributes.perm) === '0,2,1,3',
  Reshape: () => true,
  Identity: () => true,
};

/**
 * The GRU nodes of `model` as one chain of layers, first layer first, or an Error message saying
 * why they are not one (the caller then asks for `{ node }`).
 */
export function gruChain(model: OnnxModel): OnnxNode[] | string {
  const grus = model.nodes.filter((n) => n.opType === 'GRU');
  const producer = new Map<string, OnnxNode>();
  for (const n of model.nodes) for (const o of n.outputs) if (o !== '') producer.set(o, n);
  // The GRU whose Y feeds each GRU's X, through the ops above (or none).
  const previous = new Map<OnnxNode, OnnxNode>();
  for (const g of grus) {
    let name = g.inputs[0] ?? '';
    let hops = 0;
    for (;;) {
      const p = producer.get(name);
      if (!p) break;
      if (p.opType === 'GRU') {
        if (p.outputs[0] === name && hops > 0) previous.set(g, p);
        break;
      }
      const ok = BETWEEN_LAYERS[p.opType];
      if (!ok?.(p) || hops > 3) break;
      name = p.inputs[0] ?? '';
      hops++;
    }
  }
  const firsts = grus.filter((g) => !previous.has(g));
  if (firsts.length !== 1) return `${firsts.length} of them do not take their input from another GRU's output`;
  const chain = [firsts[0] as OnnxNode];
  for (;;) {
    const next = grus.filter((g) => previous.get(g) === chain[chain.length - 1]);
    if (next.length === 0) break;
    if (next.length > 1) return 'one GRU feeds several';
    chain.push(next[0] as OnnxNode);
  }
  if (chain.length !== grus.length) return 'they do not form one chain of layers';
  return chain;
}
