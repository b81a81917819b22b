import { describe, expect, it, vi } from 'vitest';
import type { FetchLike } from './api';
import { Game } from './game.svelte';
import { FakeSocket, FakeTimers } from './testfakes';

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

type Answer = [number, unknown];

/**
 * A game on fake sockets and timers. GETs of api/session are answered from
 * sessionAnswers in turn (500 once they run out), POSTs from postAnswers (200 "bob"
 * once they run out).
 */
function setup(sessionAnswers: Answer[], postAnswers: Answer[] = []) {
  const sockets: FakeSocket[] = [];
  const timers = new FakeTimers();
  const requests: string[] = [];
  const fetchFn: FetchLike = async (url, init) => {
    if (url.pathname.endsWith('/api/stats')) {
      return new Response(JSON.stringify({ ...counters, online: 1, peak_online: 4, returning_players: 2 }), { status: 200 });
    }
    requests.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    const [status, body] =
      init?.method === 'POST'
        ? (postAnswers.shift() ?? [200, { ...session, handle: 'bob' }])
        : (sessionAnswers.shift() ?? [500, {}]);
    return new Response(JSON.stringify(body), { status });
  };
  const game = new Game({
    base: 'http://h/game/',
    fetch: fetchFn,
    timers,
    socket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
  });
  return { game, sockets, timers, requests, last: () => sockets[sockets.length - 1]! };
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

  it('keeps the pulse from stats and board frames until a newer one comes', async () => {
    const { game, last } = setup([[200, session]]);
    await game.init();
    last().open();
    expect(game.rate).toBeNull();
    last().frame({ type: 'board', seq: 1, rows: [], ...counters, rate: [1, 2, 3] });
    expect(game.rate).toEqual([1, 2, 3]);
    last().frame({ type: 'stats', ...counters, online: 2 });
    expect(game.rate).toEqual([1, 2, 3]);
    last().frame({ type: 'stats', ...counters, rate: [2, 3, 9] });
    expect(game.rate).toEqual([2, 3, 9]);
    game.destroy();
  });

  it("counts the player's pace and announces milestones and board positions", async () => {
    const { game, last } = setup([[200, session]]);
    await game.init();
    last().open();
    last().frame({ type: 'state', ...session, score: 8, total: 20 });
    last().frame({ type: 'state', ...session, score: 9, total: 21 });
    last().frame({ type: 'state', ...session, score: 10, total: 22 });
    expect(game.pace.session).toBe(2);
    expect(game.pace.perSecond(Date.now())).toBeGreaterThan(0);
    expect(game.announcement).toBe('Score 10!');
    last().frame({ type: 'board', seq: 1, rows: [{ rank: 1, tag: session.tag, handle: 'alice', best: 10 }], ...counters });
    expect(game.myPosition).toBe(1);
    game.destroy();
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
    const { game, last, timers } = setup([[200, session]]);
    await game.init();
    last().open();
    last().frame({ type: 'board', seq: 5, rows: [], ...counters });
    last().fail();
    expect(game.status).toBe('offline');
    timers.fire();
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
    const { game, sockets, timers, last } = setup([
      [200, session],
      [401, { error: 'no session' }],
    ]);
    await game.init();
    last().fail();
    timers.fire();
    last().fail();
    timers.fire();
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

  describe('fair play', () => {
    const reason = 'autoclicker';
    const bannedBody = { error: `This player was banned by the moderators: ${reason}`, code: 'banned', reason };

    /** Runs every timer there is, as a long wait would: nothing may reconnect. */
    function waitLong(timers: FakeTimers) {
      timers.advance(10 * 60_000);
    }

    it('ends on a 403 banned from api/session: no socket, no retry', async () => {
      vi.useFakeTimers();
      try {
        const { game, sockets, requests } = setup([[403, bannedBody]]);
        await game.init();
        expect(game.phase).toBe('ended');
        expect(game.ending).toEqual({ kind: 'banned', reason });
        expect(game.session).toBeNull();
        expect(sockets).toHaveLength(0);
        await vi.advanceTimersByTimeAsync(60_000);
        expect(requests).toEqual(['GET /game/api/session']);
      } finally {
        vi.useRealTimers();
      }
    });

    it('ends on close code 4003 with the reason from the close frame', async () => {
      const { game, sockets, timers, requests, last } = setup([[200, session]]);
      await game.init();
      last().open();
      game.startRename();
      last().fail(4003, `banned: ${reason}`);
      expect(game.phase).toBe('ended');
      expect(game.ending).toEqual({ kind: 'banned', reason });
      expect(game.renaming).toBe(false);
      expect(game.status).toBe('idle');
      expect(game.click()).toBe(false);
      waitLong(timers);
      expect(sockets).toHaveLength(1);
      // A whole reason needs no second look.
      expect(requests).toEqual(['GET /game/api/session']);
    });

    it('reads the whole reason once when the close frame may have cut it', async () => {
      const long = 'r'.repeat(200);
      const { game, requests, last } = setup([
        [200, session],
        [403, { ...bannedBody, error: `This player was banned by the moderators: ${long}`, reason: long }],
      ]);
      await game.init();
      last().open();
      last().fail(4003, `banned: ${long.slice(0, 115)}`);
      expect(game.ending).toMatchObject({ kind: 'banned', reason: long.slice(0, 115) });
      await vi.waitFor(() => expect(game.ending).toEqual({ kind: 'banned', reason: long }));
      expect(requests).toEqual(['GET /game/api/session', 'GET /game/api/session']);
    });

    it('reaches the ban when the upgrade keeps failing (the 403 is invisible to a WebSocket)', async () => {
      const { game, sockets, timers, last } = setup([
        [200, session],
        [403, bannedBody],
      ]);
      await game.init();
      last().fail();
      timers.fire();
      last().fail();
      timers.fire();
      last().fail();
      await vi.waitFor(() => expect(game.phase).toBe('ended'));
      expect(game.ending).toEqual({ kind: 'banned', reason });
      waitLong(timers);
      expect(sockets).toHaveLength(3);
    });

    it('ends when a rename is answered banned', async () => {
      const { game, timers, sockets, last } = setup([[200, session]], [[403, bannedBody]]);
      await game.init();
      last().open();
      game.startRename();
      expect(await game.submitHandle('carol')).toBeNull();
      expect(game.phase).toBe('ended');
      expect(game.ending).toEqual({ kind: 'banned', reason });
      expect(last().closedWith).toBe(1000);
      waitLong(timers);
      expect(sockets).toHaveLength(1);
    });

    it('ends on 4004 and plays again afresh on request', async () => {
      const fresh = { ...session, score: 0, best: 0, total: 0 };
      const { game, sockets, timers, last } = setup([
        [200, session],
        [200, fresh],
      ]);
      await game.init();
      last().open();
      last().fail(4004, 'removed by a moderator');
      expect(game.phase).toBe('ended');
      expect(game.ending).toEqual({ kind: 'removed' });
      waitLong(timers);
      expect(sockets).toHaveLength(1);

      await game.playAgain();
      expect(game.phase).toBe('game');
      expect(game.ending).toBeNull();
      expect(game.session?.score).toBe(0);
      expect(sockets).toHaveLength(2);
      last().open();
      expect(game.online).toBe(true);
      game.destroy();
    });

    it('ends on 4008 without reconnecting', async () => {
      const { game, sockets, timers, last } = setup([[200, session]]);
      await game.init();
      last().open();
      expect(game.click()).toBe(true);
      last().fail(4008, 'too many frames');
      expect(game.phase).toBe('ended');
      expect(game.ending).toEqual({ kind: 'flood' });
      expect(game.status).not.toBe('offline');
      waitLong(timers);
      expect(sockets).toHaveLength(1);
    });

    it("shows the server's message when a moderator locked the handle, and keeps it", async () => {
      const error = 'your handle was set by a moderator and cannot be changed';
      const { game, last } = setup([[200, session]], [[403, { error, code: 'handle_locked' }]]);
      await game.init();
      last().open();
      game.startRename();
      expect(await game.submitHandle('carol')).toBe(error);
      expect(game.renaming).toBe(true);
      expect(game.phase).toBe('game');
      expect(game.session?.handle).toBe('alice');
      expect(game.online).toBe(true);
      game.destroy();
    });
  });

  it('asks for a handle on first visit', async () => {
    const { game } = setup([[401, { error: 'no session' }]]);
    await game.init();
    expect(game.phase).toBe('handle');
    game.destroy();
  });
});
