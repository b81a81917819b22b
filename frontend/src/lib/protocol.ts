// Wire types and validating parsers for docs/protocol.md.
// Everything coming from the network is `unknown` until one of these functions accepts it.

export interface Row {
  rank: number;
  tag: string;
  handle: string;
  best: number;
}

export interface Counters {
  total_clicks: number;
  players: number;
  online: number;
}

/** The rules in force on this server (HTTP session answers only). */
export interface Rules {
  throttle_limit: number;
  throttle_window_ms: number;
  throttle_penalty_ms: number;
  idle_reset_ms: number;
}

/** The rules as designed, used until the server said otherwise. */
export const DEFAULT_RULES: Rules = {
  throttle_limit: 50,
  throttle_window_ms: 1000,
  throttle_penalty_ms: 60_000,
  idle_reset_ms: 300_000,
};

export interface Session {
  /** Only in HTTP answers; state frames leave it out. */
  rules?: Rules;
  handle: string;
  tag: string;
  score: number;
  best: number;
  total: number;
  throttled: boolean;
  retry_after_ms: number;
  idle_reset: boolean;
}

/** GET api/stats: the counters plus the long-run figures. */
export interface Stats extends Counters {
  peak_online: number;
  returning_players: number;
}

export interface Leaderboard extends Counters {
  top: Row[];
}

export interface StateFrame extends Session {
  type: 'state';
}

export interface BoardFrame extends Counters {
  type: 'board';
  seq: number;
  rows: Row[];
}

export interface BoardDeltaFrame extends Counters {
  type: 'board_delta';
  seq: number;
  size: number;
  rows: Row[];
  drop: string[];
}

export interface StatsFrame extends Counters {
  type: 'stats';
  /** Counted clicks per second over the last 60 s, oldest first; absent when the
   * server does not send it. */
  rate?: number[];
}

/** The player's rank among all players and the players just above and below.
 * `rank` is 0 while the player is not on the ranking (no best yet). */
export interface RankFrame {
  type: 'rank';
  rank: number;
  of: number;
  best: number;
  above: Row[];
  below: Row[];
}

/**
 * Machine-readable reasons the server may add to error frames and HTTP error bodies.
 * "unavailable": the game's storage is unreachable; nothing was counted, the server retries.
 * "banned": a moderator banned this player; `reason` says why. Nothing the page can retry.
 * "handle_locked": a moderator set the handle; the player cannot rename.
 * Codes this page does not know are kept as they came, so a newer server breaks nothing.
 */
export type ErrorCode = 'unavailable' | 'banned' | 'handle_locked' | (string & {});

export const CODE_UNAVAILABLE: ErrorCode = 'unavailable';
export const CODE_BANNED: ErrorCode = 'banned';
export const CODE_HANDLE_LOCKED: ErrorCode = 'handle_locked';

/** `{"error":"...","code":"..."}`: an HTTP error body, and the payload of an error frame. */
export interface ErrorBody {
  error: string;
  code?: ErrorCode;
  /** A ban's reason, with code "banned". */
  reason?: string;
}

export interface ErrorFrame extends ErrorBody {
  type: 'error';
}

export type ServerFrame = StateFrame | BoardFrame | BoardDeltaFrame | StatsFrame | RankFrame | ErrorFrame;

export type ClientFrame = { type: 'click' } | { type: 'resync' };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-negative safe integer, as the protocol promises for every number. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isStr(v: unknown): v is string {
  return typeof v === 'string';
}

function isBool(v: unknown): v is boolean {
  return typeof v === 'boolean';
}

export function parseRow(v: unknown): Row | null {
  if (!isObj(v)) return null;
  const { rank, tag, handle, best } = v;
  if (!isCount(rank) || rank < 1 || !isStr(tag) || tag === '' || !isStr(handle) || !isCount(best)) {
    return null;
  }
  return { rank, tag, handle, best };
}

function parseRows(v: unknown): Row[] | null {
  if (!Array.isArray(v)) return null;
  const rows: Row[] = [];
  for (const item of v) {
    const row = parseRow(item);
    if (!row) return null;
    rows.push(row);
  }
  return rows;
}

function parseCounters(v: Obj): Counters | null {
  const { total_clicks, players, online } = v;
  if (!isCount(total_clicks) || !isCount(players) || !isCount(online)) return null;
  return { total_clicks, players, online };
}

export function parseRules(v: unknown): Rules | null {
  if (!isObj(v)) return null;
  const { throttle_limit, throttle_window_ms, throttle_penalty_ms, idle_reset_ms } = v;
  if (!isCount(throttle_limit) || !isCount(throttle_window_ms) || !isCount(throttle_penalty_ms) || !isCount(idle_reset_ms)) {
    return null;
  }
  return { throttle_limit, throttle_window_ms, throttle_penalty_ms, idle_reset_ms };
}

export function parseSession(v: unknown): Session | null {
  if (!isObj(v)) return null;
  let rules: Rules | undefined;
  if (v.rules !== undefined) {
    const r = parseRules(v.rules);
    if (!r) return null;
    rules = r;
  }
  const { handle, tag, score, best, total, throttled, retry_after_ms, idle_reset } = v;
  if (
    !isStr(handle) ||
    !isStr(tag) ||
    !isCount(score) ||
    !isCount(best) ||
    !isCount(total) ||
    !isBool(throttled) ||
    !isCount(retry_after_ms) ||
    !isBool(idle_reset)
  ) {
    return null;
  }
  const session: Session = { handle, tag, score, best, total, throttled, retry_after_ms, idle_reset };
  if (rules) session.rules = rules;
  return session;
}

export function parseStats(v: unknown): Stats | null {
  if (!isObj(v)) return null;
  const c = parseCounters(v);
  const { peak_online, returning_players } = v;
  if (!c || !isCount(peak_online) || !isCount(returning_players)) return null;
  return { ...c, peak_online, returning_players };
}

/** An error body; null when there is no error text or the code is not a string. */
export function parseErrorBody(v: unknown): ErrorBody | null {
  if (!isObj(v) || !isStr(v.error)) return null;
  const { error, code, reason } = v;
  if (code !== undefined && !isStr(code)) return null;
  const out: ErrorBody = { error };
  if (code !== undefined) out.code = code;
  // A reason of the wrong type is left out; the error text still says what happened.
  if (isStr(reason)) out.reason = reason;
  return out;
}

/**
 * The notice for an error caused by the unreachable storage: the server's own words,
 * capitalised as a sentence. Null for any other error.
 */
export function pausedText(e: ErrorBody): string | null {
  if (e.code !== CODE_UNAVAILABLE || e.error === '') return null;
  return e.error.charAt(0).toUpperCase() + e.error.slice(1);
}

export function parseLeaderboard(v: unknown): Leaderboard | null {
  if (!isObj(v)) return null;
  const counters = parseCounters(v);
  const top = parseRows(v.top);
  if (!counters || !top) return null;
  return { top, ...counters };
}

/** Validates one decoded JSON value as a server frame; null when it is not one. */
export function toFrame(v: unknown): ServerFrame | null {
  if (!isObj(v)) return null;
  switch (v.type) {
    case 'state': {
      const s = parseSession(v);
      return s ? { type: 'state', ...s } : null;
    }
    case 'board': {
      const c = parseCounters(v);
      const rows = parseRows(v.rows);
      if (!c || !rows || !isCount(v.seq)) return null;
      return { type: 'board', seq: v.seq, rows, ...c };
    }
    case 'board_delta': {
      const c = parseCounters(v);
      const rows = parseRows(v.rows);
      const drop = v.drop;
      if (!c || !rows || !isCount(v.seq) || !isCount(v.size)) return null;
      if (!Array.isArray(drop) || !drop.every(isStr)) return null;
      return { type: 'board_delta', seq: v.seq, size: v.size, rows, drop, ...c };
    }
    case 'stats': {
      const c = parseCounters(v);
      if (!c) return null;
      if (v.rate === undefined) return { type: 'stats', ...c };
      if (!Array.isArray(v.rate) || !v.rate.every(isCount)) return null;
      return { type: 'stats', ...c, rate: v.rate };
    }
    case 'rank': {
      const above = parseRows(v.above);
      const below = parseRows(v.below);
      const { rank, of, best } = v;
      if (!above || !below || !isCount(rank) || !isCount(of) || !isCount(best)) return null;
      return { type: 'rank', rank, of, best, above, below };
    }
    case 'error': {
      const e = parseErrorBody(v);
      return e ? { type: 'error', ...e } : null;
    }
    default:
      return null;
  }
}

/** Parses the text of one WebSocket message; null for binary data, bad JSON or bad frames. */
export function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== 'string') return null;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  return toFrame(v);
}

export function encodeFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
