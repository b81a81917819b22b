// Wire types and validating parsers for docs/protocol.md.
// Everything coming from the network is `unknown` until one of these functions accepts it.

import {
  CODE_BANNED as GEN_CODE_BANNED,
  CODE_HANDLE_LOCKED as GEN_CODE_HANDLE_LOCKED,
  CODE_UNAVAILABLE as GEN_CODE_UNAVAILABLE,
  decodeLeaderboard,
  decodeRow,
  decodeRules,
  decodeServerFrame,
  decodeSession,
  decodeStatsResponse,
  isCount,
  type Leaderboard,
  type Row,
  type Rules,
  type ServerFrame,
  type Session as WireSession,
  type StatsResponse,
} from './protocol.gen';

// The types of every frame and body come from the single source (internal/protocol, through
// protocol.gen.ts); this module adds what the page itself needs on top.
export type {
  BoardDeltaFrame,
  BoardFrame,
  Counters,
  ErrorFrame,
  Leaderboard,
  RankFrame,
  Row,
  Rules,
  ServerFrame,
  StateFrame,
  StatsFrame,
} from './protocol.gen';
export { isCount };

/** The rules as designed, used until the server said otherwise. */
export const DEFAULT_RULES: Rules = {
  throttle_limit: 50,
  throttle_window_ms: 1000,
  throttle_penalty_ms: 60_000,
  idle_reset_ms: 300_000,
};

/** The player's own state; `rules` only in HTTP answers, state frames leave it out. */
export interface Session extends WireSession {
  rules?: Rules;
}

/** GET api/stats: the counters plus the long-run figures. */
export type Stats = StatsResponse;

/** The game's clicks per second over the last minute, oldest second first (docs/protocol.md). */
export type Rate = number[];

/** The most counts a rate holds: one a second over a minute. */
export const RATE_SECONDS = 60;

/** False when a value carries a rate longer than a minute, which no server sends. */
function rateFits(v: { rate?: Rate } | null): boolean {
  return v === null || v.rate === undefined || v.rate.length <= RATE_SECONDS;
}

/**
 * Machine-readable reasons the server may add to error frames and HTTP error bodies.
 * "unavailable": the game's storage is unreachable; nothing was counted, the server retries.
 * "banned": a moderator banned this player; `reason` says why. Nothing the page can retry.
 * "handle_locked": a moderator set the handle; the player cannot rename.
 * Codes this page does not know are kept as they came, so a newer server breaks nothing.
 */
export type ErrorCode = 'unavailable' | 'banned' | 'handle_locked' | (string & {});

export const CODE_UNAVAILABLE: ErrorCode = GEN_CODE_UNAVAILABLE;
export const CODE_BANNED: ErrorCode = GEN_CODE_BANNED;
export const CODE_HANDLE_LOCKED: ErrorCode = GEN_CODE_HANDLE_LOCKED;

/** `{"error":"...","code":"..."}`: an HTTP error body, and the payload of an error frame. */
export interface ErrorBody {
  error: string;
  code?: ErrorCode;
  /** A ban's reason, with code "banned". */
  reason?: string;
}

export type ClientFrame = { type: 'click' } | { type: 'resync' };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStr(v: unknown): v is string {
  return typeof v === 'string';
}

export const parseRow: (v: unknown) => Row | null = decodeRow;
export const parseRules: (v: unknown) => Rules | null = decodeRules;
export function parseStats(v: unknown): Stats | null {
  const st = decodeStatsResponse(v);
  return rateFits(st) ? st : null;
}
export const parseLeaderboard: (v: unknown) => Leaderboard | null = decodeLeaderboard;

/** A session object: a state frame's fields, with the rules when an HTTP answer has them. */
export function parseSession(v: unknown): Session | null {
  if (!isObj(v)) return null;
  const s: Session | null = decodeSession(v);
  if (!s) return null;
  if (v.rules !== undefined) {
    const r = decodeRules(v.rules);
    if (!r) return null;
    s.rules = r;
  }
  return s;
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

/** Validates one decoded JSON value as a server frame; null when it is not one. */
export function toFrame(v: unknown): ServerFrame | null {
  const f = decodeServerFrame(v);
  return f && 'rate' in f && !rateFits(f) ? null : f;
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
