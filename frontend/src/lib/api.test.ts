import { describe, expect, it } from 'vitest';
import { apiUrl, getSession, handleLength, MAX_HANDLE_LENGTH, postSession, tidyHandle, wsUrl, type FetchLike } from './api';

const session = {
  handle: 'alice',
  tag: 'k3j9ab2x',
  score: 1,
  best: 2,
  total: 3,
  throttled: false,
  retry_after_ms: 0,
  idle_reset: false,
};

function fakeFetch(status: number, body: unknown, seen: { url?: string; init?: RequestInit } = {}): FetchLike {
  return async (input, init) => {
    seen.url = input.toString();
    seen.init = init;
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  };
}

describe('URLs', () => {
  it('resolves relative to the page, also under a sub-path', () => {
    expect(apiUrl('api/session', 'http://h:8080/').toString()).toBe('http://h:8080/api/session');
    expect(apiUrl('api/session', 'https://h/game/').toString()).toBe('https://h/game/api/session');
    expect(apiUrl('api/session', 'https://h/game/index.html?x=1').toString()).toBe('https://h/game/api/session');
  });

  it('builds the WebSocket URL with the matching scheme', () => {
    expect(wsUrl('http://127.0.0.1:8080/')).toBe('ws://127.0.0.1:8080/ws');
    expect(wsUrl('https://example.com/game/')).toBe('wss://example.com/game/ws');
    expect(wsUrl('https://example.com/game/index.html?a=b#top')).toBe('wss://example.com/game/ws');
  });
});

describe('getSession', () => {
  it('returns the session on 200', async () => {
    const seen: { url?: string } = {};
    expect(await getSession('http://h/game/', fakeFetch(200, session, seen))).toEqual({ kind: 'ok', session });
    expect(seen.url).toBe('http://h/game/api/session?optional=1');
  });

  it('returns none on 401', async () => {
    expect(await getSession('http://h/', fakeFetch(401, { error: 'no session' }))).toEqual({ kind: 'none' });
  });

  it('returns none on the 204 of ?optional=1, which has no body', async () => {
    const fetch204: FetchLike = async () => new Response(null, { status: 204 });
    expect(await getSession('http://h/', fetch204)).toEqual({ kind: 'none' });
  });

  it('reports network errors and bad answers', async () => {
    const down: FetchLike = async () => {
      throw new TypeError('failed to fetch');
    };
    expect((await getSession('http://h/', down)).kind).toBe('error');
    expect((await getSession('http://h/', fakeFetch(500, 'oops'))).kind).toBe('error');
    expect((await getSession('http://h/', fakeFetch(200, { handle: 'x' }))).kind).toBe('error');
  });
});

describe('storage unreachable', () => {
  const down = { error: "paused: the game's storage is unreachable, retrying", code: 'unavailable' };
  const shown = "Paused: the game's storage is unreachable, retrying";

  it("shows the server's notice as a sentence, with its code", async () => {
    expect(await getSession('http://h/', fakeFetch(503, down))).toEqual({ kind: 'error', message: shown, code: 'unavailable' });
    expect(await postSession('http://h/', 'alice', fakeFetch(503, down))).toEqual({
      kind: 'error',
      message: shown,
      code: 'unavailable',
    });
  });

  it('leaves uncoded errors as the server wrote them', async () => {
    expect(await getSession('http://h/', fakeFetch(503, { error: 'server shutting down' }))).toEqual({
      kind: 'error',
      message: 'server shutting down',
    });
  });
});

describe('postSession', () => {
  it('posts the handle as JSON', async () => {
    const seen: { url?: string; init?: RequestInit } = {};
    expect(await postSession('http://h/', 'alice', fakeFetch(200, session, seen))).toEqual({ kind: 'ok', session });
    expect(seen.url).toBe('http://h/api/session');
    expect(seen.init?.method).toBe('POST');
    expect(seen.init?.body).toBe('{"handle":"alice"}');
  });

  it("shows the server's error text on 400", async () => {
    const error = "handle may only contain letters, digits, spaces, '_', '-' and '.' (found '<')";
    expect(await postSession('http://h/', '<script>', fakeFetch(400, { error }))).toEqual({ kind: 'invalid', error });
  });

  it('falls back to a generic message', async () => {
    expect(await postSession('http://h/', 'x', fakeFetch(400, 'not json'))).toEqual({
      kind: 'invalid',
      error: 'That handle is not allowed.',
    });
    expect((await postSession('http://h/', 'x', fakeFetch(413, { error: 'too big' }))).kind).toBe('error');
  });
});

describe('tidyHandle', () => {
  it('trims and folds runs of spaces', () => {
    expect(tidyHandle('  alice   bob ')).toBe('alice bob');
    expect(tidyHandle('   ')).toBe('');
  });
});

describe('fair play', () => {
  const reason = 'autoclicker';
  const banned = { error: `This player was banned by the moderators: ${reason}`, code: 'banned', reason };

  it('says that a player is banned, with the reason, on either call', async () => {
    expect(await getSession('http://h/', fakeFetch(403, banned))).toEqual({ kind: 'banned', reason });
    expect(await postSession('http://h/', 'alice', fakeFetch(403, banned))).toEqual({ kind: 'banned', reason });
  });

  it("takes the reason from the error text when the body has no reason", async () => {
    const { reason: _r, ...noReason } = banned;
    expect(await getSession('http://h/', fakeFetch(403, noReason))).toEqual({ kind: 'banned', reason });
  });

  it('treats a plain 403 as an error, not a ban', async () => {
    expect(await getSession('http://h/', fakeFetch(403, { error: 'origin not allowed' }))).toEqual({
      kind: 'error',
      message: 'origin not allowed',
    });
  });

  it("shows the server's message for a handle a moderator locked", async () => {
    const error = 'your handle was set by a moderator and cannot be changed';
    expect(await postSession('http://h/', 'bob', fakeFetch(403, { error, code: 'handle_locked' }))).toEqual({
      kind: 'error',
      message: error,
      code: 'handle_locked',
    });
  });
});

describe('handleLength', () => {
  it.each([
    ['ascii', 'alice', 5],
    ['spaces are tidied first', '  ada   lovelace ', 12],
    ['a letter outside the BMP is one character, two UTF-16 units', '𝐀𝐁', 2],
    ['a letter and its combining accent are one after NFC', 'e\u0301te\u0301', 3],
    ['a mark NFC cannot compose stays a character', 'q\u0301', 2],
    ['cjk', '日本語', 3],
  ])('%s', (_name, raw, want) => expect(handleLength(raw)).toBe(want));

  it('agrees with the server on the limit where maxlength would not', () => {
    const twentyFour = '𝐀'.repeat(24);
    expect(twentyFour.length).toBe(48);
    expect(handleLength(twentyFour)).toBe(MAX_HANDLE_LENGTH);
    expect(handleLength('e\u0301'.repeat(24))).toBe(24);
  });
});
