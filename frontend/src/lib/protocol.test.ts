import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  parseErrorBody,
  parseFrame,
  parseLeaderboard,
  parseSession,
  parseStats,
  pausedText,
  toFrame,
} from './protocol';

const session = {
  handle: 'alice',
  tag: 'k3j9ab2x',
  score: 12,
  best: 40,
  total: 310,
  throttled: false,
  retry_after_ms: 0,
  idle_reset: false,
};

const counters = { total_clicks: 1234, players: 17, online: 3 };
const row = { rank: 1, tag: 'k3j9ab2x', handle: 'alice', best: 40 };

describe('parseFrame', () => {
  it('accepts the examples from docs/protocol.md', () => {
    expect(parseFrame(JSON.stringify({ type: 'state', ...session }))).toEqual({ type: 'state', ...session });
    expect(parseFrame(JSON.stringify({ type: 'board', seq: 42, rows: [row], ...counters }))).toEqual({
      type: 'board',
      seq: 42,
      rows: [row],
      ...counters,
    });
    const delta = {
      type: 'board_delta',
      seq: 43,
      size: 100,
      rows: [{ rank: 1, tag: 'p0q1r2s3', handle: 'bob', best: 41 }],
      drop: [],
      ...counters,
    };
    expect(parseFrame(JSON.stringify(delta))).toEqual(delta);
    expect(parseFrame(JSON.stringify({ type: 'stats', ...counters }))).toEqual({ type: 'stats', ...counters });
    expect(parseFrame('{"type":"error","error":"unknown frame type \\"jump\\""}')).toEqual({
      type: 'error',
      error: 'unknown frame type "jump"',
    });
  });

  it('keeps the code of an error frame, also one it does not know', () => {
    const paused = {
      type: 'error',
      error: "paused: the game's storage is unreachable, retrying",
      code: 'unavailable',
    };
    expect(parseFrame(JSON.stringify(paused))).toEqual(paused);
    expect(parseFrame('{"type":"error","error":"x","code":"from_the_future"}')).toEqual({
      type: 'error',
      error: 'x',
      code: 'from_the_future',
    });
    // Without a code there is no code property at all.
    expect(parseFrame('{"type":"error","error":"x"}')).not.toHaveProperty('code');
  });

  it('ignores unknown extra fields', () => {
    expect(parseFrame(JSON.stringify({ type: 'stats', ...counters, extra: 1 }))).toEqual({ type: 'stats', ...counters });
  });

  it.each([
    ['binary data', new ArrayBuffer(4)],
    ['not JSON', '{nope'],
    ['JSON null', 'null'],
    ['an array', '[]'],
    ['a number', '5'],
    ['no type', JSON.stringify(counters)],
    ['unknown type', JSON.stringify({ type: 'jump' })],
    ['state missing a field', JSON.stringify({ type: 'state', ...session, tag: undefined })],
    ['state with a string score', JSON.stringify({ type: 'state', ...session, score: '12' })],
    ['state with a negative score', JSON.stringify({ type: 'state', ...session, score: -1 })],
    ['state with a fractional best', JSON.stringify({ type: 'state', ...session, best: 1.5 })],
    ['state with a string boolean', JSON.stringify({ type: 'state', ...session, throttled: 'false' })],
    ['board without seq', JSON.stringify({ type: 'board', rows: [row], ...counters })],
    ['board with a bad row', JSON.stringify({ type: 'board', seq: 1, rows: [{ ...row, best: -3 }], ...counters })],
    ['board with rank 0', JSON.stringify({ type: 'board', seq: 1, rows: [{ ...row, rank: 0 }], ...counters })],
    ['board with null rows', JSON.stringify({ type: 'board', seq: 1, rows: null, ...counters })],
    ['board without counters', JSON.stringify({ type: 'board', seq: 1, rows: [] })],
    ['delta without size', JSON.stringify({ type: 'board_delta', seq: 2, rows: [], drop: [], ...counters })],
    ['delta with numeric drop', JSON.stringify({ type: 'board_delta', seq: 2, size: 100, rows: [], drop: [1], ...counters })],
    ['delta without drop', JSON.stringify({ type: 'board_delta', seq: 2, size: 100, rows: [], ...counters })],
    ['stats with a missing counter', JSON.stringify({ type: 'stats', total_clicks: 1, players: 2 })],
    ['error without text', JSON.stringify({ type: 'error' })],
    ['error with a numeric code', JSON.stringify({ type: 'error', error: 'x', code: 503 })],
    ['error with a null code', JSON.stringify({ type: 'error', error: 'x', code: null })],
  ])('rejects %s', (_name, data) => {
    expect(parseFrame(data)).toBeNull();
  });
});

describe('HTTP bodies', () => {
  it('parses a session object', () => {
    expect(parseSession(session)).toEqual(session);
    expect(parseSession({ ...session, idle_reset: 1 })).toBeNull();
    expect(parseSession({ error: 'no session' })).toBeNull();
  });

  it('keeps the rules of an HTTP session and refuses bad ones', () => {
    const rules = { throttle_limit: 5, throttle_window_ms: 1000, throttle_penalty_ms: 90_000, idle_reset_ms: 60_000 };
    expect(parseSession({ ...session, rules })).toEqual({ ...session, rules });
    expect(parseSession({ ...session, rules: { ...rules, idle_reset_ms: -1 } })).toBeNull();
    expect(parseSession({ ...session, rules: 'fast' })).toBeNull();
  });

  it('parses a stats object', () => {
    const stats = { ...counters, peak_online: 9, returning_players: 4 };
    expect(parseStats(stats)).toEqual(stats);
    expect(parseStats({ ...counters, peak_online: 9 })).toBeNull();
    expect(parseStats({ ...stats, returning_players: -1 })).toBeNull();
  });

  it('parses an error body with or without a code', () => {
    expect(parseErrorBody({ error: 'no session' })).toEqual({ error: 'no session' });
    expect(parseErrorBody({ error: 'down', code: 'unavailable' })).toEqual({ error: 'down', code: 'unavailable' });
    expect(parseErrorBody({ error: 'down', code: 1 })).toBeNull();
    expect(parseErrorBody({ code: 'unavailable' })).toBeNull();
    expect(parseErrorBody('oops')).toBeNull();
  });

  it("keeps a ban's reason, and drops one of the wrong type", () => {
    const error = 'This player was banned by the moderators: autoclicker';
    expect(parseErrorBody({ error, code: 'banned', reason: 'autoclicker' })).toEqual({
      error,
      code: 'banned',
      reason: 'autoclicker',
    });
    expect(parseErrorBody({ error, code: 'banned', reason: 7 })).toEqual({ error, code: 'banned' });
  });

  it('parses a leaderboard object', () => {
    expect(parseLeaderboard({ top: [row], ...counters })).toEqual({ top: [row], ...counters });
    expect(parseLeaderboard({ top: 'x', ...counters })).toBeNull();
  });
});

describe('encodeFrame', () => {
  it('encodes client frames as in the docs', () => {
    expect(encodeFrame({ type: 'click' })).toBe('{"type":"click"}');
    expect(encodeFrame({ type: 'resync' })).toBe('{"type":"resync"}');
  });
});

describe('pausedText', () => {
  it("capitalises the server's words for code unavailable only", () => {
    const error = "paused: the game's storage is unreachable, retrying";
    expect(pausedText({ error, code: 'unavailable' })).toBe("Paused: the game's storage is unreachable, retrying");
    expect(pausedText({ error })).toBeNull();
    expect(pausedText({ error, code: 'something_else' })).toBeNull();
    expect(pausedText({ error: '', code: 'unavailable' })).toBeNull();
  });
});

describe('the pulse (rate)', () => {
  const counters = { total_clicks: 5, players: 1, online: 1 };
  it.each<[string, unknown, boolean, number[] | undefined]>([
    ['absent', undefined, true, undefined],
    ['sixty counts', new Array<number>(60).fill(2), true, new Array<number>(60).fill(2)],
    ['fewer counts', [1, 2, 3], true, [1, 2, 3]],
    ['a negative count', [1, -2], false, undefined],
    ['a fraction', [1.5], false, undefined],
    ['a string', ['3'], false, undefined],
    ['not an array', 7, false, undefined],
    ['more than a minute', new Array<number>(61).fill(0), false, undefined],
  ])('%s', (_name, rate, valid, want) => {
    for (const type of ['stats', 'board']) {
      const f = toFrame({ type, seq: 1, rows: [], ...counters, ...(rate === undefined ? {} : { rate }) });
      if (!valid) {
        expect(f, type).toBeNull();
        continue;
      }
      expect(f, type).not.toBeNull();
      expect((f as { rate?: number[] }).rate, type).toEqual(want);
    }
    const st = parseStats({ ...counters, peak_online: 1, returning_players: 0, ...(rate === undefined ? {} : { rate }) });
    expect(st === null).toBe(!valid);
    if (valid) expect(st?.rate).toEqual(want);
  });
});

describe('rank and rate', () => {
  const rank = { type: 'rank', rank: 3, of: 150, best: 40, above: [row], below: [] };

  it('parses a rank frame', () => {
    expect(parseFrame(JSON.stringify(rank))).toEqual(rank);
  });

  it('keeps the click rate of a stats frame', () => {
    const f = { type: 'stats', ...counters, rate: [0, 3, 12] };
    expect(parseFrame(JSON.stringify(f))).toEqual(f);
  });

  it.each([
    ['rank without of', { ...rank, of: undefined }],
    ['rank with a negative rank', { ...rank, rank: -1 }],
    ['rank with a bad neighbour', { ...rank, below: [{ ...row, tag: '' }] }],
    ['rank without below', { ...rank, below: undefined }],
    ['stats with a fractional rate', { type: 'stats', ...counters, rate: [1.5] }],
    ['stats with a rate that is no list', { type: 'stats', ...counters, rate: 5 }],
  ])('rejects %s', (_name, f) => {
    expect(parseFrame(JSON.stringify(f))).toBeNull();
  });
});
