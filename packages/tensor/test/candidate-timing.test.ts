/**
 * How the autotuner turns rounds of timed runs into a time per candidate
 * (src/webgpu/kernels/candidate-timing.ts, pairedMs): the built-in choice's median, and for the
 * others that median scaled by their median ratio to the built-in choice in the same round. Load
 * that slows a whole round cancels out, and one quiet round cannot make a tie look like a win.
 * Pure arithmetic: no device, no clock.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairedMs } from '../src/webgpu/kernels/candidate-timing.js';
import { FC_SEED } from './property-support.js';

describe('pairedMs', () => {
  it("scales the built-in choice's median by each candidate's median ratio to it", () => {
    const ms = pairedMs(
      [
        [2, 1.8],
        [4, 3.6],
        [1, 0.9],
      ],
      2,
    );
    expect(ms[0]).toBe(2);
    expect(ms[1]).toBeCloseTo(1.8, 12);
  });

  it('does not let one quiet round make a tie a win (the best round would have)', () => {
    const rounds = [
      [2, 2],
      [2, 1],
      [2, 2],
    ];
    // Candidate 1's best round (1) would have made it twice as fast as the built-in choice.
    expect(pairedMs(rounds, 2)).toEqual([2, 2]);
  });

  it('counts only the rounds that timed a candidate with the built-in choice; never timed is Infinity', () => {
    // Three rounds of all candidates, then two confirming rounds of the built-in and candidate 1.
    const rounds: (number | undefined)[][] = [
      [2, 1.5, 3],
      [2, 1.6, 3],
      [2, 1.4, 3],
      [2, 1.5],
      [2, 1.5],
    ];
    const ms = pairedMs(rounds, 4);
    expect(ms[0]).toBe(2);
    expect(ms[1]).toBeCloseTo(1.5, 12);
    expect(ms[2]).toBe(3);
    expect(ms[3]).toBe(Number.POSITIVE_INFINITY);
  });

  it('gives the same ratios to the built-in choice however much each round is slowed as a whole', () => {
    const round = fc.array(fc.double({ min: 0.1, max: 100, noNaN: true }), { minLength: 3, maxLength: 3 });
    const rounds = fc.array(fc.tuple(round, fc.double({ min: 1, max: 4, noNaN: true })), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(rounds, (rs) => {
        const plain = pairedMs(
          rs.map(([r]) => r),
          3,
        );
        const loaded = pairedMs(
          rs.map(([r, load]) => r.map((x) => x * load)),
          3,
        );
        for (let i = 1; i < 3; i++) expect(loaded[i] / loaded[0]).toBeCloseTo(plain[i] / plain[0], 9);
      }),
      { seed: FC_SEED, numRuns: 200 },
    );
  });
});
