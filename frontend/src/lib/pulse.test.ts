import { describe, expect, it } from 'vitest';
import { describePulse, normaliseRate, PULSE_SECONDS, sparkline } from './pulse';

/** The y of every point of a path, in order. */
function ys(path: string): number[] {
  return [...path.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => Number(m[2]));
}

describe('normaliseRate', () => {
  it.each([
    ['nothing yet', undefined, 0, 0],
    ['a short rate is padded on the left', [3, 4], 3, 4],
    ['a long rate keeps its newest 60', [...new Array<number>(70).fill(1), 9], 1, 9],
    ['bad values are 0', [Number.NaN, -4, 2.7], 0, 2],
  ])('%s', (_name, rate, first58or, last) => {
    const out = normaliseRate(rate as number[] | undefined);
    expect(out).toHaveLength(PULSE_SECONDS);
    expect(out[PULSE_SECONDS - 1]).toBe(last);
    if (Array.isArray(rate) && rate.length === 2) expect(out[PULSE_SECONDS - 2]).toBe(first58or);
  });
});

describe('sparkline', () => {
  it('puts the newest second at the right edge and the peak at the top', () => {
    const rate = new Array<number>(60).fill(0);
    rate[30] = 20;
    rate[59] = 10;
    const s = sparkline(rate, 120, 40, 2);
    const y = ys(s.line);
    expect(y).toHaveLength(60);
    expect(y[30]).toBe(2); // the peak touches the top pad
    expect(y[0]).toBe(38); // zero sits on the bottom pad
    expect(y[59]).toBe(20); // half the peak, halfway
    expect(s.line.startsWith('M0,38')).toBe(true);
    expect(s.line).toContain('L120,20');
    expect(s).toMatchObject({ now: 10, peak: 20, total: 30 });
  });

  it('draws a quiet minute as a flat line at the bottom, without dividing by zero', () => {
    const s = sparkline(undefined, 60, 20);
    expect(new Set(ys(s.line))).toEqual(new Set([18.5]));
    expect(s.line).not.toMatch(/NaN|Infinity/);
    expect(s).toMatchObject({ now: 0, peak: 0, total: 0 });
  });

  it('closes the area along the bottom', () => {
    const s = sparkline([1, 2, 3], 100, 30);
    expect(s.area.startsWith(s.line)).toBe(true);
    expect(s.area.endsWith('L100,30 L0,30 Z')).toBe(true);
  });

  it('moves when a new second comes in', () => {
    const before = sparkline([5, 5, 5], 60, 20);
    const after = sparkline([5, 5, 5, 9], 60, 20);
    expect(after.line).not.toBe(before.line);
    expect(after.now).toBe(9);
  });
});

describe('describePulse', () => {
  it('says what the chart shows', () => {
    expect(describePulse(sparkline([], 10, 10))).toBe('No clicks in the whole game over the last minute.');
    expect(describePulse(sparkline([1200, 1], 10, 10))).toBe(
      'The whole game over the last minute: 1 click a second now, at most 1,200 clicks a second, 1,201 clicks in all.',
    );
  });
});
