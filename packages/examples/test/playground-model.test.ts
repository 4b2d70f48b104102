import { describe, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import { Trainer, Vocab } from '../playground/model.js';

// The playground's model in Node: its gradient-through-time view, which the page draws.
const corpus = 'the quick brown fox jumps over the lazy dog. '.repeat(4);

forEachBackend('playground model', () => {
  describe('gradientThroughTime', () => {
    it('gives ‖∂L/∂h_t‖ for every character but the last, and leaves training untouched', async () => {
      const trainer = new Trainer(new Vocab(corpus), corpus, { hiddenSize: 8, learningRate: 0.01, seed: 1 });
      const norms = await trainer.gradientThroughTime('the lazy dog');
      expect(norms).toHaveLength('the lazy dog'.length - 1);
      for (const n of norms) expect(n).toBeGreaterThan(0);
      // The last state feeds the prediction directly; the gradient through a fresh GRU shrinks
      // going back in time, so the first state gets far less than the last.
      expect(norms[0]).toBeLessThan(norms[norms.length - 1]);
      for (const p of trainer.model.parameters()) expect(p.grad).toBeNull();
      expect(await trainer.gradientThroughTime('t')).toHaveLength(0);
      trainer.dispose();
    });
  });
});
