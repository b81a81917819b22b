import { describe, expect, it } from 'vitest';
import { SendRate } from './sendrate';

describe('SendRate', () => {
  it('is over the limit after more than 200 frames within a second', () => {
    const r = new SendRate();
    for (let i = 0; i < 200; i++) r.sent(1000);
    expect(r.overLimit(1000)).toBe(false);
    r.sent(1999);
    expect(r.overLimit(2000)).toBe(true);
  });

  it('is not when the same frames take longer than a second', () => {
    const r = new SendRate();
    for (let i = 0; i <= 1000; i++) r.sent(i * 5); // 200 a second, steadily
    expect(r.overLimit(5000)).toBe(false);
  });

  it('remembers a burst for a while, then forgets it', () => {
    const r = new SendRate(3, 1000);
    for (let i = 0; i < 4; i++) r.sent(0);
    r.sent(5000);
    r.sent(8000);
    expect(r.overLimit(9_999)).toBe(true);
    expect(r.overLimit(10_000)).toBe(false);
  });
});
