import { describe, expect, it } from 'vitest';
import { countdownSeconds, describeDuration, formatCount, formatCountdown, remainingMs } from './throttle';

describe('throttle countdown', () => {
  it('counts the time left, never below zero', () => {
    expect(remainingMs(10_000, 4_000)).toBe(6_000);
    expect(remainingMs(10_000, 12_000)).toBe(0);
  });

  it('rounds seconds up so the last second still shows 1', () => {
    expect(countdownSeconds(60_000)).toBe(60);
    expect(countdownSeconds(59_001)).toBe(60);
    expect(countdownSeconds(59_000)).toBe(59);
    expect(countdownSeconds(1)).toBe(1);
    expect(countdownSeconds(0)).toBe(0);
    expect(countdownSeconds(-5)).toBe(0);
    expect(countdownSeconds(Number.NaN)).toBe(0);
  });

  it('formats the countdown', () => {
    expect(formatCountdown(42_000)).toBe('42 s');
    expect(formatCountdown(500)).toBe('1 s');
    expect(formatCountdown(0)).toBe('0 s');
    expect(formatCountdown(60_000)).toBe('60 s');
    expect(formatCountdown(59_750)).toBe('60 s');
    expect(formatCountdown(125_000)).toBe('125 s');
  });

  it('formats counters with thousands separators', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(1234567)).toBe('1,234,567');
  });
});

describe('describeDuration', () => {
  it.each([
    [300_000, '5 minutes'],
    [60_000, '1 minute'],
    [90_000, '90 seconds'],
    [1000, '1 second'],
    [7_200_000, '2 hours'],
    [250, '250 milliseconds'],
  ])('%i ms reads "%s"', (ms, words) => {
    expect(describeDuration(ms)).toBe(words);
  });
});
