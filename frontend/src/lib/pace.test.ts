import { describe, expect, it } from 'vitest';
import { formatPace, Pace, PACE_WINDOW_MS } from './pace';

describe('Pace', () => {
  it.each<[string, Array<[number, number]>, number, number, number]>([
    ['the first total only sets the base', [[100, 0]], 0, 0, 0],
    ['counted clicks raise the session and the pace', [[100, 0], [101, 100], [103, 200]], 3, 0.6, 300],
    ['several clicks in one frame count as many', [[7, 0], [12, 10]], 5, 1, 20],
    ['an unchanged total (a refused click) counts nothing', [[5, 0], [5, 10], [6, 20]], 1, 0.2, 30],
    ['a total that went down counts nothing and sets a new base', [[50, 0], [0, 10], [2, 20]], 2, 0.4, 30],
    ['clicks older than the window leave the pace, not the session', [[0, 0], [10, 0], [11, PACE_WINDOW_MS + 500]], 11, 0.2, PACE_WINDOW_MS + 600],
  ])('%s', (_name, totals, session, perSecond, at) => {
    const p = new Pace();
    for (const [total, now] of totals) p.observe(total, now);
    expect(p.session).toBe(session);
    expect(p.perSecond(at)).toBe(perSecond);
  });

  it('is active until the last click left the window', () => {
    const p = new Pace();
    p.observe(0, 0);
    expect(p.active(0)).toBe(false);
    p.observe(1, 1000);
    expect(p.active(1000 + PACE_WINDOW_MS - 1)).toBe(true);
    expect(p.active(1000 + PACE_WINDOW_MS)).toBe(false);
    expect(p.perSecond(1000 + PACE_WINDOW_MS)).toBe(0);
  });

  it('formats one decimal', () => {
    expect(formatPace(0)).toBe('0.0 clicks/s');
    expect(formatPace(12.34)).toBe('12.3 clicks/s');
  });
});
