import { describe, expect, it, vi } from 'vitest';
import type { FetchLike } from './api';
import type { SocketLike, Timers } from './connection';
import { Game } from './game.svelte';

const session = {
  handle: 'alice',
  tag: 'aaaa1111',
  score: 3,
  best: 5,
  total: 9,
  throttled: false,
  retry_after_ms: 0,
  idle_reset: false,
};
const counters = { total_clicks: 10, players: 2, online: 1 };

class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  sent: string[] = [];
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f: object) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  fail() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }
}

function setup(sessionAnswers: Array<[number, unknown]>) {
  const sockets: FakeSocket[] = [];
  const queued: Array<() => void> = [];
  const timers: Timers = {
    setTimeout: (fn) => queued.push(fn),
    clearTimeout: () => {},
  };
  const fetchFn: FetchLike = async (url, init) => {
    if (url.pathname.endsWith('/api/stats')) {
      return new Response(JSON.stringify({ ...counters, online: 1, peak_online: 4, returning_players: 2 }), { status: 200 });
    }
    if (init?.method === 'POST') return new Response(JSON.stringify({ ...session, handle: 'bob' }), { status: 200 });
    const [status, body] = sessionAnswers.shift() ?? [500, {}];
    return new Response(JSON.stringify(body), { status });
  };
  const game = new Game({
    base: 'http://h/game/',
    fetch: fetchFn,
    timers,
    socket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
  });
  return { game, sockets, queued, last: () => sockets[sockets.length - 1]! };
}

describe('Game', () => {
  it('shows the peak online from api/stats and raises it with the online counts it sees', async () => {
    const { game, last } = setup([[200, session]]);
    await game.init();
    expect(game.peakOnline).toBeNull();
    last().open();
    await vi.waitFor(() => expect(game.peakOnline).toBe(4));
    last().frame({ type: 'stats', ...counters, online: 3 });
    expect(game.peakOnline).toBe(4);
    last().frame({ type: 'stats', ...counters, online: 6 });
    expect(game.peakOnline).toBe(6);
    expect(game.counters?.online).toBe(6);
  });

  it('takes the rules from the HTTP session and keeps them across state frames', async () => {
    const rules = { throttle_limit: 5, throttle_window_ms: 1000, throttle_penalty_ms: 90_000, idle_reset_ms: 120_000 };
    const { game, last } = setup([[200, { ...session, rules }]]);
    expect(game.rules.idle_reset_ms).toBe(300_000);
    await game.init();
    expect(game.rules).toEqual(rules);
    last().open();
    last().frame({ type: 'state', ...session, score: 4 });
    expect(game.session?.score).toBe(4);
    expect(game.rules).toEqual(rules);
  });

  it('goes straight to the game for a returning visitor and applies frames', async () => {
    const { game, last } = setup([[200, session]]);
    await game.init();
    expect(game.phase).toBe('game');
    expect(game.session?.score).toBe(3);
    const ws = last();
    ws.open();
    expect(game.online).toBe(true);
    ws.frame({ type: 'state', ...session, score: 4, best: 5 });
    ws.frame({ type: 'board', seq: 5, rows: [{ rank: 1, tag: 'aaaa1111', handle: 'alice', best: 5 }], ...counters });
    expect(game.session?.score).toBe(4);
    expect(game.board.seq).toBe(5);
    ws.frame({
      type: 'board_delta',
      seq: 6,
      size: 100,
      rows: [{ rank: 1, tag: 'bbbb2222', handle: 'bob', best: 7 }],
      drop: [],
      ...counters,
      total_clicks: 17,
    });
    expect(game.board.rows.map((r) => r.tag)).toEqual(['bbbb2222', 'aaaa1111']);
    expect(game.counters?.total_clicks).toBe(17);
    ws.frame({ type: 'stats', ...counters, online: 2 });
    expect(game.counters?.online).toBe(2);
    expect(game.click()).toBe(true);
    expect(ws.sent).toEqual(['{"type":"click"}']);
    game.destroy();
  });

  it('sends one resync on a seq gap and waits for the full board', async () => {
    const { game, last } = setup([[200, session]]);
    await game.init();
    const ws = last();
    ws.open();
    ws.frame({ type: 'board', seq: 5, rows: [], ...counters });
    const delta = { type: 'board_delta', size: 100, rows: [], drop: [], ...counters };
    ws.frame({ ...delta, seq: 7, rows: [{ rank: 1, tag: 'x', handle: 'x', best: 1 }] });
    ws.frame({ ...delta, seq: 8 });
    expect(ws.sent).toEqual(['{"type":"resync"}']);
    expect(game.board.seq).toBe(5);
    expect(game.board.rows).toEqual([]);
    ws.frame({ type: 'board', seq: 8, rows: [{ rank: 1, tag: 'x', handle: 'x', best: 1 }], ...counters });
    ws.frame({ ...delta, seq: 9, drop: ['x'] });
    expect(game.board.seq).toBe(9);
    expect(game.board.rows).toEqual([]);
    game.destroy();
  });

  it('does not apply a delta after a reconnect before the fresh board', async () => {
    const { game, last, queued } = setup([[200, session]]);
    await game.init();
    last().open();
    last().frame({ type: 'board', seq: 5, rows: [], ...counters });
    last().fail();
    expect(game.status).toBe('offline');
    queued.shift()!();
    last().open();
    expect(game.status).toBe('open');
    last().frame({ type: 'board_delta', seq: 6, size: 100, rows: [], drop: [], ...counters });
    expect(last().sent).toEqual(['{"type":"resync"}']);
    game.destroy();
  });

  it('tracks the throttle deadline from state frames', async () => {
    const { game, last } = setup([[200, session]]);
    await game.init();
    last().open();
    const before = Date.now();
    last().frame({ type: 'state', ...session, throttled: true, retry_after_ms: 60_000 });
    expect(game.session?.throttled).toBe(true);
    expect(game.throttleDeadline).toBeGreaterThanOrEqual(before + 60_000);
    last().frame({ type: 'state', ...session });
    expect(game.throttleDeadline).toBe(0);
    game.destroy();
  });

  it('shows the handle form when reconnects keep failing and the cookie is gone', async () => {
    const { game, sockets, queued, last } = setup([
      [200, session],
      [401, { error: 'no session' }],
    ]);
    await game.init();
    last().fail();
    queued.shift()!();
    last().fail();
    queued.shift()!();
    last().fail();
    await vi.waitFor(() => expect(game.phase).toBe('handle'));
    expect(game.session).toBeNull();
    expect(sockets).toHaveLength(3);
    // A new handle starts a new connection.
    expect(await game.submitHandle('  bob ')).toBeNull();
    expect(game.phase).toBe('game');
    expect(sockets).toHaveLength(4);
    game.destroy();
  });

  describe('paused while the storage is unreachable', () => {
    const notice = "Paused: the game's storage is unreachable, retrying";
    const down = { type: 'error', error: "paused: the game's storage is unreachable, retrying", code: 'unavailable' };

    it('enters on an error frame with code unavailable and leaves on the next state frame', async () => {
      const { game, last } = setup([[200, session]]);
      await game.init();
      const ws = last();
      ws.open();
      ws.frame({ type: 'state', ...session });
      expect(game.paused).toBeNull();
      expect(game.click()).toBe(true);
      ws.frame(down);
      expect(game.paused).toBe(notice);
      // Still online and clickable: the next click may get through.
      expect(game.online).toBe(true);
      expect(game.click()).toBe(true);
      // Board and stats frames say nothing about the storage taking clicks again.
      ws.frame({ type: 'stats', ...counters });
      ws.frame({ type: 'board', seq: 1, rows: [], ...counters });
      expect(game.paused).toBe(notice);
      ws.frame({ type: 'state', ...session, score: 4 });
      expect(game.paused).toBeNull();
      expect(game.session?.score).toBe(4);
      game.destroy();
    });

    it('does not enter on an uncoded error or another code', async () => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const { game, last } = setup([[200, session]]);
      await game.init();
      last().open();
      last().frame({ type: 'error', error: "paused: the game's storage is unreachable, retrying" });
      last().frame({ type: 'error', error: 'unknown frame type "jump"' });
      last().frame({ ...down, code: 'something_else' });
      expect(game.paused).toBeNull();
      expect(warn).toHaveBeenCalledTimes(3);
      warn.mockRestore();
      game.destroy();
    });

    it("shows the server's notice while the first session load gets 503 unavailable", async () => {
      vi.useFakeTimers();
      try {
        const { game } = setup([
          [503, { error: down.error, code: 'unavailable' }],
          [500, { error: 'boom' }],
          [200, session],
        ]);
        await game.init();
        expect(game.phase).toBe('loading');
        expect(game.loadError).toBe(notice);
        // Other failures say that the page retries. (waitFor moves the fake clock on.)
        await vi.waitFor(() => expect(game.loadError).toBe('boom Retrying…'));
        await vi.waitFor(() => expect(game.phase).toBe('game'));
        expect(game.loadError).toBe('');
        game.destroy();
      } finally {
        vi.useRealTimers();
      }
    });
  });

  it('asks for a handle on first visit', async () => {
    const { game } = setup([[401, { error: 'no session' }]]);
    await game.init();
    expect(game.phase).toBe('handle');
    game.destroy();
  });
});
