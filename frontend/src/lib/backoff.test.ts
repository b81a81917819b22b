import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff';

describe('Backoff', () => {
  it('doubles from 500 ms up to 10 s', () => {
    const b = new Backoff({ random: () => 0.999999 });
    const seq = Array.from({ length: 8 }, () => b.next());
    expect(seq).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it('jitters between half and all of the nominal delay', () => {
    const low = new Backoff({ random: () => 0 });
    expect(Array.from({ length: 7 }, () => low.next())).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    const b = new Backoff();
    for (let i = 0; i < 200; i++) {
      const nominal = b.nominal();
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(nominal / 2);
      expect(d).toBeLessThanOrEqual(nominal);
      expect(d).toBeLessThanOrEqual(10_000);
    }
  });

  it('starts over after reset', () => {
    const b = new Backoff({ random: () => 0.999999 });
    b.next();
    b.next();
    b.next();
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(500);
  });

  it('does not overflow after very many attempts', () => {
    const b = new Backoff({ random: () => 0.5 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(7500);
  });
});

describe('Backoff.later', () => {
  it('waits at least the longest delay, with jitter above it', () => {
    expect(new Backoff({ random: () => 0 }).later()).toBe(10_000);
    expect(new Backoff({ random: () => 0.999999 }).later()).toBe(15_000);
    const b = new Backoff({ baseMs: 100, maxMs: 2000, random: () => 0.5 });
    expect(b.later()).toBe(2500);
  });

  it('leaves the usual backoff at its longest delay until a reset', () => {
    const b = new Backoff({ random: () => 0.999999 });
    b.later();
    expect(b.next()).toBe(10_000);
    expect(b.next()).toBe(10_000);
    b.reset();
    expect(b.next()).toBe(500);
  });
});
