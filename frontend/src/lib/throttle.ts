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
