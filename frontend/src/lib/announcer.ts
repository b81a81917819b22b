// What the one polite live region says: score milestones, a new best and rank changes on
// the board, at most once every few seconds, never every click or countdown tick.

/** The least time between two announcements. */
export const ANNOUNCE_GAP_MS = 4_000;

/** 10, 25, 50, 100, 250, 500, 1000, 2500, ...: often at first, then ever rarer. */
export function milestoneAtOrBelow(n: number): number {
  if (n < 10) return 0;
  let best = 0;
  for (let p = 10; p <= n; p *= 10) {
    for (const m of [1, 2.5, 5]) if (p * m <= n) best = p * m;
  }
  return best;
}

export interface Seen {
  score: number;
  /** The player's position on the board, null when not on it. */
  rank: number | null;
}

/**
 * Collects what is worth saying and releases at most one sentence per ANNOUNCE_GAP_MS:
 * the newest news of each kind, joined, so a fast climb is one sentence, not ten.
 */
export class Announcer {
  private last: Seen | null = null;
  private lastAt = -Infinity;
  private milestone: string | null = null;
  private rank: string | null = null;

  /** Takes the latest score and rank; returns the sentence to announce now, or null. */
  observe(seen: Seen, now: number): string | null {
    const prev = this.last;
    this.last = seen;
    if (prev) {
      const m = milestoneAtOrBelow(seen.score);
      if (m > milestoneAtOrBelow(prev.score)) this.milestone = `Score ${m.toLocaleString('en-US')}!`;
      if (seen.rank !== prev.rank) {
        if (seen.rank === null) this.rank = 'You left the leaderboard.';
        else if (prev.rank === null) this.rank = `You are on the leaderboard at #${seen.rank}.`;
        else if (seen.rank < prev.rank) this.rank = `Up to #${seen.rank} on the leaderboard.`;
        else this.rank = `Down to #${seen.rank} on the leaderboard.`;
      }
    }
    return this.flush(now);
  }

  /** The pending sentence when the gap has passed (call it from a timer too), or null. */
  flush(now: number): string | null {
    if (this.milestone === null && this.rank === null) return null;
    if (now - this.lastAt < ANNOUNCE_GAP_MS) return null;
    const text = [this.milestone, this.rank].filter((s) => s !== null).join(' ');
    this.milestone = this.rank = null;
    this.lastAt = now;
    return text;
  }

  /** True while a sentence waits for the gap to pass. */
  get pending(): boolean {
    return this.milestone !== null || this.rank !== null;
  }
}
