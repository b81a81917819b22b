// HTTP API (docs/protocol.md) and URL helpers. Every URL is relative to document.baseURI,
// so the page works when served under a sub-path.
import { banReasonFromBody } from './ending';
import {
  CODE_BANNED,
  parseErrorBody,
  parseSession,
  parseStats,
  pausedText,
  type ErrorCode,
  type Session,
  type Stats,
} from './protocol';

export type FetchLike = (input: URL, init?: RequestInit) => Promise<Response>;

export function apiUrl(path: string, base: string): URL {
  return new URL(path, base);
}

/** ws(s)://…/ws next to the page, whatever sub-path it is served under. */
export function wsUrl(base: string): string {
  const u = new URL('ws', base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.hash = '';
  u.search = '';
  return u.toString();
}

/** A moderator banned this player: nothing to retry, the page says why and stops. */
export interface BannedResult {
  kind: 'banned';
  reason: string;
}

export type GetSessionResult =
  | { kind: 'ok'; session: Session }
  | { kind: 'none' }
  | BannedResult
  | { kind: 'error'; message: string; code?: ErrorCode };

export type PostSessionResult =
  | { kind: 'ok'; session: Session }
  | { kind: 'invalid'; error: string }
  | BannedResult
  | { kind: 'error'; message: string; code?: ErrorCode };

async function readJson(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

interface ShownError {
  text: string | null;
  code?: ErrorCode;
}

/** The server's reason as the page shows it; its code, if any, for the caller to act on. */
function shownError(body: unknown): ShownError {
  const e = parseErrorBody(body);
  if (!e || e.error === '') return { text: null };
  return { text: pausedText(e) ?? e.error, code: e.code };
}

/** The ban in an error answer (code "banned", whatever the status), or null. */
function bannedIn(body: unknown): BannedResult | null {
  const e = parseErrorBody(body);
  if (!e || e.code !== CODE_BANNED) return null;
  return { kind: 'banned', reason: banReasonFromBody(e.error, e.reason) };
}

export async function getSession(base: string, fetchFn: FetchLike = fetch): Promise<GetSessionResult> {
  let res: Response;
  try {
    // ?optional=1: "no player yet" is 204, not a 401 the browser would log as an error.
    res = await fetchFn(apiUrl('api/session?optional=1', base), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    });
  } catch {
    return { kind: 'error', message: 'Cannot reach the server.' };
  }
  // 401 is what a server from before ?optional says.
  if (res.status === 204 || res.status === 401) return { kind: 'none' };
  const body = await readJson(res);
  if (res.ok) {
    const session = parseSession(body);
    if (session) return { kind: 'ok', session };
    return { kind: 'error', message: 'The server sent an unexpected answer.' };
  }
  const banned = bannedIn(body);
  if (banned) return banned;
  const { text, code } = shownError(body);
  return { kind: 'error', message: text ?? `Server error (${res.status}).`, code };
}

export async function postSession(
  base: string,
  handle: string,
  fetchFn: FetchLike = fetch,
): Promise<PostSessionResult> {
  let res: Response;
  try {
    res = await fetchFn(apiUrl('api/session', base), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ handle }),
    });
  } catch {
    return { kind: 'error', message: 'Cannot reach the server. Please try again.' };
  }
  const body = await readJson(res);
  if (res.ok) {
    const session = parseSession(body);
    if (session) return { kind: 'ok', session };
    return { kind: 'error', message: 'The server sent an unexpected answer.' };
  }
  const banned = bannedIn(body);
  if (banned) return banned;
  // Anything else, "handle_locked" included, is shown as the server wrote it.
  const { text, code } = shownError(body);
  if (res.status === 400) return { kind: 'invalid', error: text ?? 'That handle is not allowed.' };
  return { kind: 'error', message: text ?? `Server error (${res.status}). Please try again.`, code };
}

/** GET api/stats; null when the server cannot be reached or answers oddly. */
export async function getStats(base: string, fetchFn: FetchLike = fetch): Promise<Stats | null> {
  try {
    const res = await fetchFn(apiUrl('api/stats', base), { headers: { Accept: 'application/json' }, cache: 'no-store' });
    return res.ok ? parseStats(await readJson(res)) : null;
  } catch {
    return null;
  }
}

/** Client-side tidy-up before POSTing; the server stays the authority. */
export const MAX_HANDLE_LENGTH = 24;

export function tidyHandle(raw: string): string {
  return raw.trim().replace(/ {2,}/g, ' ');
}

/**
 * The handle's length as the server counts it (game/handle.go): code points after the
 * tidy-up and NFC. An input's maxlength counts UTF-16 units instead, which is wrong for
 * letters outside the BMP (two units, one character) and for a letter typed with a
 * separate accent (two before NFC, one after).
 */
export function handleLength(raw: string): number {
  let n = 0;
  for (const _ of tidyHandle(raw).normalize('NFC')) n++;
  return n;
}
