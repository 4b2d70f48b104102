/**
 * The autotuner's time bound (src/webgpu/kernels/tuning-budget.ts), checked on an injected clock:
 * steps that fit are charged their length; work unfinished at the deadline is abandoned (CUT) and
 * charged exactly what was left; a step whose expected length does not fit never starts; a result
 * that arrives late is not used; a synchronous start past the deadline is charged in full and
 * noted, and no step starts unless 1.5 times the longest start so far is left. A property then runs random sequences of steps (some never ending) and checks that the
 * charged time never exceeds the budget and adds up. No wall clock is read: these cannot flake.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Clock, CUT, TuningBudget } from '../src/webgpu/kernels/tuning-budget.js';
import { FC_SEED } from './property-support.js';

/** A clock that moves only when told; its timers fire as it passes them. */
class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; fire: () => void }[] = [];
  now(): number {
    return this.t;
  }
  timeout(ms: number) {
    let fire = () => {};
    const done = new Promise<void>((resolve) => {
      fire = resolve;
    });
    const timer = { at: this.t + ms, fire };
    this.timers.push(timer);
    return { done, cancel: () => this.drop(timer) };
  }
  /** Work that ends `ms` from now (never, for Infinity). */
  after<T>(ms: number, value: T): Promise<T> {
    return this.timeout(ms).done.then(() => value);
  }
  private drop(timer: { at: number }): void {
    this.timers = this.timers.filter((x) => x !== timer);
  }
  /** Moves to the next timer (or by `ms`) and fires what is due. */
  step(ms?: number): boolean {
    const finite = this.timers.filter((x) => Number.isFinite(x.at));
    if (ms === undefined && finite.length === 0) return false;
    this.t = ms === undefined ? Math.min(...finite.map((x) => x.at)) : this.t + ms;
    for (const x of this.timers.filter((x) => x.at <= this.t)) {
      this.drop(x);
      x.fire();
    }
    return true;
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs the clock until p settles. */
async function settle<T>(clock: FakeClock, p: Promise<T>): Promise<T> {
  let done = false;
  const end = () => {
    done = true;
  };
  p.then(end, end);
  await flush();
  while (!done && clock.step()) await flush();
  return p;
}

describe('the tuning budget', () => {
  it('charges a step that ends in time its length, and returns its value', async () => {
    const clock = new FakeClock();
    const budget = new TuningBudget(100, clock);
    expect(
      await settle(
        clock,
        budget.step(() => clock.after(30, 'done')),
      ),
    ).toBe('done');
    expect([budget.spentMs, budget.left(), budget.abandoned]).toEqual([30, 70, 0]);
  });

  it('abandons work unfinished at the deadline, charges what was left, and starts nothing after', async () => {
    const clock = new FakeClock();
    const budget = new TuningBudget(100, clock);
    await settle(
      clock,
      budget.step(() => clock.after(40, 1)),
    );
    const lateValues: string[] = [];
    const r = await settle(
      clock,
      budget.step(
        () => clock.after(500, 'device'),
        0,
        (v) => lateValues.push(v),
      ),
    );
    expect(r).toBe(CUT);
    expect([budget.spentMs, budget.abandoned, clock.t]).toEqual([100, 1, 100]);
    let started = false;
    const next = await budget.step(async () => {
      started = true;
    });
    expect([next, started]).toEqual([CUT, false]);
    // The abandoned work ends 440 ms after its deadline: reported, handed to `late`, not charged.
    await settle(clock, clock.after(1000, null));
    expect([budget.afterDeadlineMs, lateValues, budget.spentMs]).toEqual([440, ['device'], 100]);
  });

  it('does not start a step whose expected length exceeds what is left', async () => {
    const clock = new FakeClock();
    const budget = new TuningBudget(100, clock);
    await settle(
      clock,
      budget.step(() => clock.after(70, 0)),
    );
    let started = false;
    const r = await budget.step(async () => {
      started = true;
    }, 31);
    expect([r, started, budget.spentMs]).toEqual([CUT, false, 70]);
    expect(
      await settle(
        clock,
        budget.step(() => clock.after(29, 'fits'), 30),
      ),
    ).toBe('fits');
    expect(budget.spentMs).toBe(99);
  });

  it('does not use a result that arrives after the deadline', async () => {
    const clock = new FakeClock();
    const budget = new TuningBudget(100, clock);
    const p = budget.step(() => Promise.resolve('late'));
    clock.t += 150; // the event loop was busy past the deadline before the result was seen
    expect(await settle(clock, p)).toBe(CUT);
    expect([budget.spentMs, budget.abandoned]).toEqual([100, 1]);
  });

  it('charges a synchronous start that runs past the deadline in full, and notes the excess', async () => {
    const clock = new FakeClock();
    const budget = new TuningBudget(100, clock);
    const r = await budget.step(() => {
      clock.t += 120; // e.g. a submit that runs on the calling thread
      return Promise.resolve('ran');
    });
    expect([r, budget.spentMs, budget.threadMs, budget.overrunMs]).toEqual([CUT, 120, 120, 20]);
  });

  it('starts no step unless 1.5 times the longest synchronous start so far is left', async () => {
    const clock = new FakeClock();
    const budget = new TuningBudget(100, clock);
    const r = await settle(
      clock,
      budget.step(() => {
        clock.t += 40; // a start that takes 40 ms on the calling thread
        return clock.after(10, 'done');
      }),
    );
    expect([r, budget.left()]).toEqual(['done', 50]);
    let started = false;
    const next = await budget.step(async () => {
      started = true;
    });
    expect([next, started, budget.overrunMs]).toEqual([CUT, false, 0]);
  });

  it('passes a failed step on, charged its length', async () => {
    const clock = new FakeClock();
    const budget = new TuningBudget(100, clock);
    const failing = budget.step(() => clock.after(10, null).then(() => Promise.reject(new Error('lost device'))));
    await expect(settle(clock, failing)).rejects.toThrow('lost device');
    expect(budget.spentMs).toBe(10);
  });

  it('never charges more than the budget, and the charges add up, over random steps', async () => {
    const stepArb = fc.record({
      ms: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(Number.POSITIVE_INFINITY)),
      expected: fc.integer({ min: 0, max: 300 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), fc.array(stepArb, { maxLength: 12 }), async (ms, steps) => {
        const clock = new FakeClock();
        const budget = new TuningBudget(ms, clock);
        let finished = 0;
        let cutAt: number | null = null;
        for (const s of steps) {
          const left = budget.left();
          const r = await settle(
            clock,
            budget.step(() => clock.after(s.ms, s.ms), s.expected),
          );
          if (r !== CUT) {
            expect(r).toBeLessThanOrEqual(left);
            finished += r;
          } else if (left > 0 && s.expected <= left) cutAt ??= left;
          expect(budget.spentMs).toBeLessThanOrEqual(ms);
        }
        expect(budget.spentMs).toBe(finished + (cutAt ?? 0));
        expect(budget.overrunMs).toBe(0);
      }),
      { seed: FC_SEED, numRuns: 200 },
    );
  });
});
