import { describe, expect, it } from 'vitest';
import type { RankFrame } from './protocol';
import { neighbourLines, rankText } from './rank';

const frame = (over: Partial<RankFrame> = {}): RankFrame => ({
  type: 'rank',
  rank: 12345,
  of: 98765,
  best: 40,
  above: [
    { rank: 12343, tag: 'aaaaaaaa', handle: 'ann', best: 42 },
    { rank: 12344, tag: 'bbbbbbbb', handle: 'ben', best: 41 },
  ],
  below: [
    { rank: 12345, tag: 'cccccccc', handle: 'cat', best: 40 },
    { rank: 12346, tag: 'dddddddd', handle: 'dan', best: 39 },
  ],
  ...over,
});

const me = { tag: 'mmmmmmmm', handle: 'me' };

describe('rankText', () => {
  it.each([
    ['a rank with thousands separators', frame(), '#12,345 of 98,765'],
    ['the only player', frame({ rank: 1, of: 1, above: [], below: [] }), '#1 of 1'],
    ['no best yet', frame({ rank: 0, of: 1234567, above: [], below: [] }), 'Not ranked yet: click to join 1,234,567 players'],
    ['no best yet, one other player', frame({ rank: 0, of: 1, above: [], below: [] }), 'Not ranked yet: click to join 1 player'],
    ['before the first frame', null, 'Finding your rank…'],
  ])('%s', (_name, r, want) => {
    expect(rankText(r)).toBe(want);
  });
});

describe('neighbourLines', () => {
  it('puts the player between the neighbours, marked, with the frame best and rank', () => {
    const lines = neighbourLines(frame(), me);
    expect(lines.map((l) => [l.rank, l.handle, l.best, l.mine])).toEqual([
      [12343, 'ann', 42, false],
      [12344, 'ben', 41, false],
      [12345, 'me', 40, true],
      [12345, 'cat', 40, false],
      [12346, 'dan', 39, false],
    ]);
  });

  it('shows fewer rows at the top and the bottom of the ranking', () => {
    const top = neighbourLines(frame({ rank: 1, above: [] }), me);
    expect(top[0]).toMatchObject({ mine: true, rank: 1 });
    expect(top).toHaveLength(3);
    const bottom = neighbourLines(frame({ below: [] }), me);
    expect(bottom.at(-1)).toMatchObject({ mine: true });
  });

  it('is empty while the player is not ranked', () => {
    expect(neighbourLines(frame({ rank: 0, above: [], below: [] }), me)).toEqual([]);
    expect(neighbourLines(null, me)).toEqual([]);
  });

  it('never lists the player twice', () => {
    const r = frame({ below: [{ rank: 12345, tag: me.tag, handle: 'old name', best: 40 }] });
    expect(neighbourLines(r, me).filter((l) => l.tag === me.tag)).toHaveLength(1);
  });
});
