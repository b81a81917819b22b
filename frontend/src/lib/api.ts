// HTTP API (docs/protocol.md) and URL helpers. Every URL is relative to document.baseURI,
// so the page works when served under a sub-path.
import { parseSession, parseStats, type Session, type Stats } from './protocol';

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

export type GetSessionResult =
  | { kind: 'ok'; session: Session }
  | { kind: 'none' }
  | { kind: 'error'; message: string };

export type PostSessionResult =
  | { kind: 'ok'; session: Session }
  | { kind: 'invalid'; error: string }
  | { kind: 'error'; message: string };

async function readJson(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

function errorText(body: unknown): string | null {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const e = (body as { error: unknown }).error;
    if (typeof e === 'string' && e !== '') return e;
  }
  return null;
}

export async function getSession(base: string, fetchFn: FetchLike = fetch): Promise<GetSessionResult> {
  let res: Response;
  try {
    res = await fetchFn(apiUrl('api/session', base), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    });
  } catch {
    return { kind: 'error', message: 'Cannot reach the server.' };
  }
  if (res.status === 401) return { kind: 'none' };
  const body = await readJson(res);
  if (res.ok) {
    const session = parseSession(body);
    if (session) return { kind: 'ok', session };
    return { kind: 'error', message: 'The server sent an unexpected answer.' };
  }
  return { kind: 'error', message: errorText(body) ?? `Server error (${res.status}).` };
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
  const text = errorText(body);
  if (res.status === 400) return { kind: 'invalid', error: text ?? 'That handle is not allowed.' };
  return { kind: 'error', message: text ?? `Server error (${res.status}). Please try again.` };
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
