import { describe, expect, it } from 'vitest';
import { ANNOUNCE_GAP_MS, Announcer, milestoneAtOrBelow } from './announcer';

describe('milestoneAtOrBelow', () => {
  it.each([
    [0, 0],
    [9, 0],
    [10, 10],
    [24, 10],
    [25, 25],
    [99, 50],
    [100, 100],
    [260, 250],
    [1000, 1000],
    [7400, 5000],
  ])('%i → %i', (n, want) => expect(milestoneAtOrBelow(n)).toBe(want));
});

describe('Announcer', () => {
  it('says nothing for the first state or for plain clicks', () => {
    const a = new Announcer();
    expect(a.observe({ score: 3, rank: null }, 0)).toBeNull();
    expect(a.observe({ score: 4, rank: null }, 100)).toBeNull();
    expect(a.observe({ score: 5, rank: null }, 200)).toBeNull();
  });

  it('announces a milestone and a rank change together', () => {
    const a = new Announcer();
    a.observe({ score: 9, rank: 3 }, 0);
    expect(a.observe({ score: 10, rank: 2 }, 10)).toBe('Score 10! Up to #2 on the leaderboard.');
  });

  it('keeps at most one sentence per gap, the newest news of each kind', () => {
    const a = new Announcer();
    a.observe({ score: 0, rank: null }, 0);
    expect(a.observe({ score: 1, rank: 9 }, 1000)).toBe('You are on the leaderboard at #9.');
    // A fast climb inside the gap: nothing yet, then one sentence with the latest rank.
    expect(a.observe({ score: 2, rank: 8 }, 1500)).toBeNull();
    expect(a.observe({ score: 10, rank: 5 }, 2000)).toBeNull();
    expect(a.pending).toBe(true);
    expect(a.flush(1000 + ANNOUNCE_GAP_MS - 1)).toBeNull();
    expect(a.flush(1000 + ANNOUNCE_GAP_MS)).toBe('Score 10! Up to #5 on the leaderboard.');
    expect(a.pending).toBe(false);
    expect(a.flush(1000 + 3 * ANNOUNCE_GAP_MS)).toBeNull();
  });

  it('says when the player drops or leaves the board', () => {
    const a = new Announcer();
    a.observe({ score: 0, rank: 2 }, 0);
    expect(a.observe({ score: 0, rank: 3 }, 10)).toBe('Down to #3 on the leaderboard.');
    expect(a.observe({ score: 0, rank: null }, 10 + ANNOUNCE_GAP_MS)).toBe('You left the leaderboard.');
  });

  it('does not repeat a milestone when the score falls back and climbs again past a lower one', () => {
    const a = new Announcer();
    a.observe({ score: 99, rank: null }, 0);
    expect(a.observe({ score: 100, rank: null }, 1)).toBe('Score 100!');
    expect(a.observe({ score: 100, rank: null }, 10_000)).toBeNull();
  });
});
