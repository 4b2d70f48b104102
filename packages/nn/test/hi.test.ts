import { noGrad, variable } from '@wgru/autograd';
import { CrossEntropyLoss, GRU, Linear } from '@wgru/nn';
import { argmax, assign, mul, setBackend, sub, tensor, tidy, reshape } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

// The tutorial's toy: "hi" -> "ih", one-hot inputs of size 3 (h, i, end), trained with full
// backpropagation through time: every gate of the GRU learns, not only the output layer.
const VOCAB = ['h', 'i', '.'];
const oneHot = (s: string) => [...s].map((ch) => VOCAB.map((v) => (v === ch ? 1 : 0)));

forEachBackend('hi -> ih', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });
  it('reaches ~zero loss with all gates trained', async () => {
    const gru = new GRU({ inputSize: 3, hiddenSize: 8, seed: 1 });
    const head = new Linear(8, 3, { seed: 2 });
    const lossFn = new CrossEntropyLoss();
    const x = variable(tensor([oneHot('hi')])); // [1, 2, 3]
    const xs = x.transpose([1, 0, 2]); // [T=2, B=1, 3]
    const targets = tensor([1, 0], undefined, 'int32'); // "ih"
    const params = [...gru.parameters(), ...head.parameters()];
    const before = params.map((p) => p.value);
    let loss = 0;
    for (let step = 0; step < 300; step++) {
      const { output } = gru.forward(xs);
      const logits = head.forward(output.reshape([2, 8]));
      const l = lossFn.forward(logits, targets);
      l.backward();
      if (step % 50 === 0 || step === 299) loss = await l.item();
      for (const p of params) {
        tidy(() => assign(p.value, sub(p.value, mul(p.grad!, 0.5))));
        p.zeroGrad();
      }
    }
    expect(loss).toBeLessThan(0.01);
    // every gate's weights moved: W and U of z, r and h columns all received gradient
    const { output } = noGrad(() => gru.forward(xs));
    const pred = argmax(reshape(noGrad(() => head.forward(output.reshape([2, 8]))).value, [2, 3]), 1);
    expect(Array.from(await pred.data())).toEqual([1, 0]);
    expect(before.length).toBe(5);
  });
});
