import { describe, expect, it } from 'vitest';
import { applyDelta, applyFull, displayRows, duplicateHandles, markStale, type Board } from './board';
import type { BoardDeltaFrame, Row } from './protocol';

const counters = { total_clicks: 0, players: 0, online: 0 };

function rows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({ rank: i + 1, tag: `t${i + 1}`, handle: `p${i + 1}`, best: 1000 - i }));
}

function delta(seq: number, part: Partial<BoardDeltaFrame>): BoardDeltaFrame {
  return { type: 'board_delta', seq, size: 100, rows: [], drop: [], ...counters, ...part };
}

const tags = (b: Board) => b.rows.map((r) => r.tag);

describe('applyFull', () => {
  it('replaces the board', () => {
    const b = applyFull({ type: 'board', seq: 7, rows: rows(3), ...counters });
    expect(b.seq).toBe(7);
    expect(tags(b)).toEqual(['t1', 't2', 't3']);
  });
});

describe('applyDelta', () => {
  const start: Board = { seq: 10, rows: rows(100) };

  it('moves a climber from rank 50 to rank 10 with one row', () => {
    const climber = { ...start.rows[49]!, rank: 10, best: 992 };
    const r = applyDelta(start, delta(11, { rows: [climber] }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.board.seq).toBe(11);
    expect(r.board.rows).toHaveLength(100);
    expect(r.board.rows[9]).toEqual(climber);
    // Rows 10..49 moved down one place, keeping their relative order.
    expect(tags(r.board).slice(8, 12)).toEqual(['t9', 't50', 't10', 't11']);
    expect(tags(r.board).slice(49, 51)).toEqual(['t49', 't51']);
    expect(tags(r.board).filter((t) => t === 't50')).toHaveLength(1);
  });

  it('inserts a newcomer and cuts the board to size', () => {
    const newcomer = { rank: 1, tag: 'new', handle: 'n', best: 5000 };
    const r = applyDelta(start, delta(11, { rows: [newcomer] }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.board.rows).toHaveLength(100);
    expect(tags(r.board)[0]).toBe('new');
    expect(tags(r.board)).not.toContain('t100');
  });

  it('removes dropped rows', () => {
    const r = applyDelta(start, delta(11, { drop: ['t3', 't7'], size: 98 }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.board.rows).toHaveLength(98);
    expect(tags(r.board)).not.toContain('t3');
    expect(tags(r.board)).not.toContain('t7');
    expect(tags(r.board).slice(0, 4)).toEqual(['t1', 't2', 't4', 't5']);
  });

  it('inserts several rows in ascending rank whatever their order in the frame', () => {
    const small: Board = { seq: 1, rows: rows(5) };
    const a = { rank: 2, tag: 't5', handle: 'p5', best: 999 };
    const b = { rank: 1, tag: 't4', handle: 'p4', best: 2000 };
    const r = applyDelta(small, delta(2, { rows: [a, b], size: 5 }));
    expect(r.ok && tags(r.board)).toEqual(['t4', 't5', 't1', 't2', 't3']);
  });

  it('updates a row in place when the rank does not change', () => {
    const small: Board = { seq: 1, rows: rows(3) };
    const r = applyDelta(small, delta(2, { rows: [{ rank: 2, tag: 't2', handle: 'renamed', best: 999 }] }));
    expect(r.ok && r.board.rows.map((x) => x.handle)).toEqual(['p1', 'renamed', 'p3']);
  });

  it('grows an empty board', () => {
    const r = applyDelta({ seq: 0, rows: [] }, delta(1, { rows: [{ rank: 1, tag: 'a', handle: 'a', best: 1 }] }));
    expect(r.ok && tags(r.board)).toEqual(['a']);
  });

  it('refuses a gap in seq', () => {
    expect(applyDelta(start, delta(12, {})).ok).toBe(false);
  });

  it('refuses an old or repeated seq', () => {
    expect(applyDelta(start, delta(10, {})).ok).toBe(false);
    expect(applyDelta(start, delta(3, {})).ok).toBe(false);
  });

  it('refuses any delta onto a stale board', () => {
    expect(applyDelta(markStale(start), delta(11, {})).ok).toBe(false);
    expect(markStale(start).rows).toBe(start.rows);
  });

  it('does not modify the board it was given', () => {
    const before = tags(start);
    applyDelta(start, delta(11, { drop: ['t1'] }));
    expect(tags(start)).toEqual(before);
  });
});

describe('display helpers', () => {
  const board: Row[] = [
    { rank: 1, tag: 'aaaa1111', handle: 'alice', best: 9 },
    { rank: 2, tag: 'bbbb2222', handle: 'bob', best: 8 },
    { rank: 3, tag: 'cccc3333', handle: 'alice', best: 7 },
  ];

  it('finds handles shared by visible rows', () => {
    expect([...duplicateHandles(board)]).toEqual(['alice']);
  });

  it('adds #tag only to rows whose handle is shared, and marks my row', () => {
    const shown = displayRows(board, 'cccc3333');
    expect(shown.map((r) => r.suffix)).toEqual(['#aaaa1111', '', '#cccc3333']);
    expect(shown.map((r) => r.mine)).toEqual([false, false, true]);
  });

  it('shows positions as ranks, since rows moved by a delta keep their old rank field', () => {
    const shown = displayRows([{ ...board[0]!, rank: 5 }, board[1]!], null);
    expect(shown.map((r) => r.rank)).toEqual([1, 2]);
    expect(shown.every((r) => !r.mine)).toBe(true);
  });
});
