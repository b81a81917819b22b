// The player's own pace this session, from the lifetime total in their state frames: a
// counted click raises it, whichever tab or device made it. Plain data, no timers.

/** The pace is the counted clicks of this many recent milliseconds, per second. */
export const PACE_WINDOW_MS = 5_000;

export class Pace {
  /** Counted clicks since the page opened. */
  session = 0;
  private last: number | null = null;
  /** Recent counted clicks as [epoch ms, how many], oldest first. */
  private recent: Array<[number, number]> = [];

  /**
   * Takes the lifetime total of a state frame seen at now. The first one only sets the
   * base; a total that went down (a moderator reset, another player after a new handle)
   * sets a new base without counting anything.
   */
  observe(total: number, now: number): void {
    if (this.last !== null && total > this.last) {
      const d = total - this.last;
      this.session += d;
      this.recent.push([now, d]);
    }
    this.last = total;
    this.trim(now);
  }

  /** Counted clicks per second over the last PACE_WINDOW_MS, one decimal. */
  perSecond(now: number): number {
    this.trim(now);
    let n = 0;
    for (const [, d] of this.recent) n += d;
    return Math.round((n * 10_000) / PACE_WINDOW_MS) / 10;
  }

  /** True while some click still counts towards the pace, so the display must tick down. */
  active(now: number): boolean {
    this.trim(now);
    return this.recent.length > 0;
  }

  private trim(now: number): void {
    const from = now - PACE_WINDOW_MS;
    let i = 0;
    while (i < this.recent.length && this.recent[i]![0] <= from) i++;
    if (i > 0) this.recent.splice(0, i);
  }
}

/** "4.2 clicks/s", for the pace line. */
export function formatPace(perSecond: number): string {
  return `${perSecond.toFixed(1)} clicks/s`;
}
