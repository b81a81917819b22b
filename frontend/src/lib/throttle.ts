// Throttle countdown helpers.

/** Milliseconds left until `deadline` (epoch ms) at time `now`, never negative. */
export function remainingMs(deadline: number, now: number): number {
  return Math.max(0, deadline - now);
}

/** Whole seconds shown in the countdown: rounded up, so "1" until the very end. */
export function countdownSeconds(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return 0;
  return Math.ceil(ms / 1000);
}

/** Seconds until the next click counts, e.g. "42 s" (also past a minute: "60 s"). */
export function formatCountdown(ms: number): string {
  return `${countdownSeconds(ms)} s`;
}

const numberFormat = new Intl.NumberFormat('en-US');

/** Thousands separators for the big counters. */
export function formatCount(n: number): string {
  return numberFormat.format(n);
}

/** A rule's duration in words: "5 minutes", "1 minute", "90 seconds", "2 hours". */
export function describeDuration(ms: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return unit(ms / 3_600_000, 'hour');
  if (ms >= 60_000 && ms % 60_000 === 0) return unit(ms / 60_000, 'minute');
  if (ms >= 1000) return unit(Math.round(ms / 1000), 'second');
  return unit(Math.max(0, Math.round(ms)), 'millisecond');
}
