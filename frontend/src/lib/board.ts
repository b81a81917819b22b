// Leaderboard bookkeeping: full boards, deltas with sequence checks, and display helpers.
import type { BoardDeltaFrame, BoardFrame, Row } from './protocol';

export interface Board {
  /** Sequence number of the board held; null when it is stale (e.g. after a reconnect). */
  seq: number | null;
  rows: Row[];
}

export const emptyBoard: Board = { seq: null, rows: [] };

export function applyFull(frame: BoardFrame): Board {
  return { seq: frame.seq, rows: frame.rows.slice() };
}

export type DeltaResult = { ok: true; board: Board } | { ok: false };

/**
 * Applies a board_delta as docs/protocol.md says: only onto the board with seq - 1;
 * remove rows whose tag is in `rows` or `drop`, insert `rows` in ascending rank at
 * rank - 1, cut to `size`. `{ ok: false }` means the caller must send a resync.
 */
export function applyDelta(board: Board, delta: BoardDeltaFrame): DeltaResult {
  if (board.seq === null || delta.seq !== board.seq + 1) return { ok: false };
  const gone = new Set<string>(delta.drop);
  for (const r of delta.rows) gone.add(r.tag);
  const rows = board.rows.filter((r) => !gone.has(r.tag));
  const inserts = delta.rows.slice().sort((a, b) => a.rank - b.rank);
  for (const r of inserts) {
    const at = Math.min(r.rank - 1, rows.length);
    rows.splice(at, 0, r);
  }
  if (rows.length > delta.size) rows.length = delta.size;
  return { ok: true, board: { seq: delta.seq, rows } };
}

/** Marks the board stale (kept for display) so no delta is applied before a fresh board. */
export function markStale(board: Board): Board {
  return { seq: null, rows: board.rows };
}

/** Handles that appear on more than one visible row; those rows show `#tag` after the handle. */
export function duplicateHandles(rows: readonly Row[]): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.handle)) dup.add(r.handle);
    else seen.add(r.handle);
  }
  return dup;
}

export interface DisplayRow extends Row {
  /** `#tag` when another visible row has the same handle, otherwise ''. */
  suffix: string;
  mine: boolean;
}

/**
 * Rows ready to show. The rank shown is the position: after a delta, rows that merely
 * moved down keep the rank they were sent with, so their `rank` field can be stale.
 */
export function displayRows(rows: readonly Row[], myTag: string | null): DisplayRow[] {
  const dup = duplicateHandles(rows);
  return rows.map((r, i) => ({
    ...r,
    rank: i + 1,
    suffix: dup.has(r.handle) ? `#${r.tag}` : '',
    mine: myTag !== null && r.tag === myTag,
  }));
}
