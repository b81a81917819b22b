// The player's own rank and the players around it, from the server's rank frames.
import type { RankFrame, Row } from './protocol';
import { formatCount } from './throttle';

/** One line of the neighbourhood: a neighbour, or the player's own row. */
export interface RankLine {
  rank: number;
  tag: string;
  handle: string;
  best: number;
  mine: boolean;
}

/** "#12,345 of 98,765"; before the first rank frame, or while the player has no best,
 * a sentence that says so. */
export function rankText(r: RankFrame | null): string {
  if (r === null) return 'Finding your rank…';
  if (r.rank === 0) {
    const n = r.of === 1 ? '1 player' : `${formatCount(r.of)} players`;
    return `Not ranked yet: click to join ${n}`;
  }
  return `#${formatCount(r.rank)} of ${formatCount(r.of)}`;
}

function line(r: Row, mine: boolean): RankLine {
  return { rank: r.rank, tag: r.tag, handle: r.handle, best: r.best, mine };
}

/**
 * The rows around the player, best first: the neighbours above, the player's own row,
 * the neighbours below. Empty while the player is not ranked. A neighbour row carrying
 * the player's own tag (a frame from just before a rename) is not repeated.
 */
export function neighbourLines(r: RankFrame | null, me: { tag: string; handle: string }): RankLine[] {
  if (r === null || r.rank === 0) return [];
  const others = (rows: Row[]) => rows.filter((x) => x.tag !== me.tag).map((x) => line(x, false));
  return [
    ...others(r.above),
    { rank: r.rank, tag: me.tag, handle: me.handle, best: r.best, mine: true },
    ...others(r.below),
  ];
}
