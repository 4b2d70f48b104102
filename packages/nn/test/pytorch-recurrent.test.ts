/**
 * wgru's recurrent layers against real PyTorch 1.13 (fixtures written by
 * scripts/pytorch-fixtures.py): nn.GRU (layers, bidirectional, packed lengths, batch_first) in
 * both bias layouts, nn.GRUCell and nn.LSTM, forward and every gradient; and torch.onnx.export
 * files of multi-layer GRUs imported whole by fromOnnxGRU. On every backend.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { variable } from '@wgru/autograd';
import { setBackend, tensor } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import type { ShapedArray } from '../src/importers/common.js';
import { fromOnnxGRU } from '../src/importers/onnx.js';
import { fromPyTorchGRU, fromPyTorchGRUCell, toPyTorchGRU, toPyTorchGRUCell } from '../src/importers/pytorch.js';
import { GRU, GRUCell } from '../src/rnn/gru.js';
import { LSTM } from '../src/rnn/lstm.js';
import { expectClose, type Fixture, fixture, fixtureDir, host, transposed } from './pytorch-fixtures.js';

const GRU_CASES = ['gru_l2_bi', 'gru_l2', 'gru_packed_bi', 'gru_packed_l2_bf'];

const input = (f: Fixture, key: string, requiresGrad = true) => {
  const t = f.f32(key);
  return variable(tensor(t.data, t.shape), { requiresGrad });
};

/** wgru's parameter gradients as a state dict of host arrays. */
async function gradDict(m: GRU | GRUCell): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [k, p] of m.namedParameters()) out[k] = await host(p.grad, k);
  return out;
}

/**
 * PyTorch's gradients against wgru's, mapped back to PyTorch's keys by the exporter (the map is a
 * signed permutation, so it maps gradients as it maps weights). With the folded layout the z and r
 * blocks of bias_hh have no wgru parameter of their own (their gradient is bias_ih's, checked).
 */
function expectTorchGrads(
  mapped: Record<string, ShapedArray | unknown>,
  want: Record<string, ShapedArray<Float32Array>>,
  H: number,
  recurrentBias: boolean,
  label: string,
): void {
  for (const [k, w] of Object.entries(want)) {
    const got = (mapped[k] as ShapedArray).data;
    if (k.startsWith('bias_hh') && !recurrentBias)
      expectClose(got.subarray(2 * H), w.data.subarray(2 * H), `${label} ${k}[n]`);
    else expectClose(got, w, `${label} ${k}`);
  }
}

forEachBackend('PyTorch 1.13 fixtures: recurrent layers', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  for (const id of GRU_CASES) {
    for (const recurrentBias of [false, true]) {
      it(`nn.GRU ${id}, ${recurrentBias ? 'recurrentBias: true' : 'biases folded'}: output, hN and every gradient`, async () => {
        const f = fixture(id);
        const c = f.config;
        const layout = {
          inputSize: c.I,
          hiddenSize: c.H,
          numLayers: c.numLayers,
          bidirectional: c.bidirectional,
          resetAfter: true,
          recurrentBias,
        };
        const gru = new GRU({ ...layout, batchFirst: c.batchFirst });
        const params = f.group('param.');
        const { resetAfter: _, ...torchOpts } = layout;
        gru.loadStateDict(fromPyTorchGRU(params, torchOpts));
        const [x, h0] = [input(f, 'in.x'), input(f, 'in.h0')];
        const lengths = c.lengths ? { lengths: Int32Array.from(c.lengths) } : {};
        const { output, hN } = gru.forward(x, h0, lengths);
        expectClose(await output.data(), f.f32('out.y'), 'output');
        expectClose(await hN.data(), f.f32('out.hn'), 'hN');
        const loss = output
          .mul(input(f, 'in.gy', false))
          .sum()
          .add(hN.mul(input(f, 'in.ghn', false)).sum());
        loss.backward();
        const grads = f.group('grad.');
        expectClose(await host(x.grad, 'x'), grads.x as ShapedArray, 'dx');
        expectClose(await host(h0.grad, 'h0'), grads.h0 as ShapedArray, 'dh0');
        const { x: _x, h0: _h, ...paramGrads } = grads;
        expectTorchGrads(toPyTorchGRU(await gradDict(gru), layout), paramGrads, c.H, recurrentBias, 'd');
      });
    }
  }

  it('nn.GRUCell, both bias layouts: h1 and every gradient', async () => {
    const f = fixture('gru_cell');
    const { I, H } = f.config;
    for (const recurrentBias of [false, true]) {
      const cell = new GRUCell({ inputSize: I, hiddenSize: H, resetAfter: true, recurrentBias });
      cell.loadStateDict(fromPyTorchGRUCell(f.group('param.'), { inputSize: I, hiddenSize: H, recurrentBias }));
      const [x, h] = [input(f, 'in.x'), input(f, 'in.h')];
      const h1 = cell.forward(x, h);
      expectClose(await h1.data(), f.f32('out.h1'), 'h1');
      h1.mul(input(f, 'in.g', false))
        .sum()
        .backward();
      const { x: gx, h: gh, ...paramGrads } = f.group('grad.');
      expectClose(await host(x.grad, 'x'), gx as ShapedArray, 'dx');
      expectClose(await host(h.grad, 'h'), gh as ShapedArray, 'dh');
      const layout = { inputSize: I, hiddenSize: H, resetAfter: true, recurrentBias };
      expectTorchGrads(toPyTorchGRUCell(await gradDict(cell), layout), paramGrads, H, recurrentBias, 'd');
    }
  });

  it('nn.LSTM, 2 layers: output, hN, cN and every gradient', async () => {
    const f = fixture('lstm');
    const { I, H, numLayers } = f.config;
    const lstm = new LSTM({ inputSize: I, hiddenSize: H, numLayers });
    const p = f.group('param.');
    const dict: Record<string, Float32Array> = {};
    for (let k = 0; k < numLayers; k++) {
      // Same gate order i | f | g | o; row vectors (transposed); one bias b = b_ih + b_hh.
      dict[`l${k}.W`] = transposed(p[`weight_ih_l${k}`] as ShapedArray<Float32Array>).data;
      dict[`l${k}.U`] = transposed(p[`weight_hh_l${k}`] as ShapedArray<Float32Array>).data;
      const [bih, bhh] = [p[`bias_ih_l${k}`]?.data as Float32Array, p[`bias_hh_l${k}`]?.data as Float32Array];
      dict[`l${k}.b`] = bih.map((v, i) => v + bhh[i]);
    }
    lstm.loadStateDict(dict);
    const x = input(f, 'in.x');
    const { output, hN, cN } = lstm.forward(x);
    expectClose(await output.data(), f.f32('out.y'), 'output');
    expectClose(await hN.data(), f.f32('out.hn'), 'hN');
    expectClose(await cN.data(), f.f32('out.cn'), 'cN');
    const g = (k: string) => input(f, k, false);
    output
      .mul(g('in.gy'))
      .sum()
      .add(hN.mul(g('in.ghn')).sum())
      .add(cN.mul(g('in.gcn')).sum())
      .backward();
    const grads = f.group('grad.');
    expectClose(await host(x.grad, 'x'), grads.x as ShapedArray, 'dx');
    const named = new Map(lstm.namedParameters());
    for (let k = 0; k < numLayers; k++) {
      const grad = async (n: string) => host(named.get(`l${k}.${n}`)?.grad, n);
      expectClose(await grad('W'), transposed(grads[`weight_ih_l${k}`] as ShapedArray<Float32Array>), `dW l${k}`);
      expectClose(await grad('U'), transposed(grads[`weight_hh_l${k}`] as ShapedArray<Float32Array>), `dU l${k}`);
      expectClose(await grad('b'), grads[`bias_ih_l${k}`] as ShapedArray, `db l${k}`);
    }
  });

  for (const id of ['gru_l2_bi', 'gru_l2']) {
    it(`torch.onnx.export of ${id} imports whole (a chain of GRU nodes) and computes PyTorch's output`, async () => {
      const f = fixture(id);
      const c = f.config;
      const bytes = readFileSync(path.join(fixtureDir, `${id}.onnx`));
      for (const recurrentBias of [false, true]) {
        const imported = fromOnnxGRU(bytes, {}, { recurrentBias });
        expect(imported.options).toEqual({
          inputSize: c.I,
          hiddenSize: c.H,
          numLayers: c.numLayers,
          bidirectional: c.bidirectional,
          resetAfter: true,
          batchFirst: false,
          bias: true,
          ...(recurrentBias ? { recurrentBias } : {}),
        });
        expect(imported.nodes).toHaveLength(c.numLayers);
        // The export only reorders PyTorch's weights: the import is the PyTorch importer's, bit for bit.
        const { resetAfter: _, batchFirst: _b, bias: _c, ...opts } = imported.options;
        const fromTorch = fromPyTorchGRU(f.group('param.'), { ...opts, recurrentBias });
        expect(Object.keys(imported.stateDict).sort()).toEqual(Object.keys(fromTorch).sort());
        for (const [k, v] of Object.entries(fromTorch))
          expect(Buffer.from((imported.stateDict[k] as Float32Array).buffer).equals(Buffer.from(v.buffer)), k).toBe(
            true,
          );
        const gru = new GRU(imported.options);
        gru.loadStateDict(imported.stateDict);
        const { output, hN } = gru.forward(input(f, 'in.x', false), input(f, 'in.h0', false));
        expectClose(await output.data(), f.f32('out.y'), 'output');
        expectClose(await hN.data(), f.f32('out.hn'), 'hN');
      }
      // { node } still picks one layer: the second takes the first's D·H features.
      const one = fromOnnxGRU(bytes, {}, { node: fromOnnxGRU(bytes).nodes[1]?.name ?? '' });
      expect(one.options.numLayers).toBe(1);
      expect(one.options.inputSize).toBe((c.bidirectional ? 2 : 1) * c.H);
      expect(Object.keys(one.stateDict).every((k) => k.startsWith('l0'))).toBe(true);
    });
  }
});

describe('PyTorch fixtures: the folded layout is the same function, not the same training', () => {
  it('recurrentBias needs resetAfter, and the importers refuse it for a reset-before layout', () => {
    expect(() => new GRU({ inputSize: 2, hiddenSize: 2, recurrentBias: true })).toThrow(
      /GRU: recurrentBias: true needs resetAfter: true/,
    );
    expect(() => new GRUCell({ inputSize: 2, hiddenSize: 2, resetAfter: true, recurrentBias: 1 as never })).toThrow(
      /GRUCell: recurrentBias must be true or false/,
    );
    const H = 2;
    const torchState = {
      weight_ih: new Float32Array(3 * H * 2),
      weight_hh: new Float32Array(3 * H * H),
      bias_ih: new Float32Array(3 * H),
      bias_hh: new Float32Array(3 * H),
    };
    const split = fromPyTorchGRUCell(torchState, { inputSize: 2, hiddenSize: H, recurrentBias: true });
    expect(split.c?.length).toBe(3 * H);
    expect(fromPyTorchGRUCell(torchState, { inputSize: 2, hiddenSize: H }).c?.length).toBe(H);
  });
});
