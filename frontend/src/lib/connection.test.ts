import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from './backoff';
import { Connection, type ConnectionStatus } from './connection';
import type { Ending } from './ending';
import type { ServerFrame } from './protocol';
import { FakeSocket, FakeTimers } from './testfakes';

describe('Connection', () => {
  let sockets: FakeSocket[];
  let timers: FakeTimers;
  let frames: ServerFrame[];
  let statuses: ConnectionStatus[];
  let failureChecks: number[];
  let endings: Ending[];
  let conn: Connection;
  const last = () => sockets[sockets.length - 1]!;

  beforeEach(() => {
    sockets = [];
    timers = new FakeTimers();
    frames = [];
    statuses = [];
    failureChecks = [];
    endings = [];
    conn = new Connection({
      url: 'ws://example.test/game/ws',
      socket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      timers,
      backoff: new Backoff({ random: () => 0.999999 }),
      onFrame: (f) => frames.push(f),
      onStatus: (s) => statuses.push(s),
      onRepeatedFailure: (n) => failureChecks.push(n),
      onBadFrame: () => {},
      onEnd: (e) => endings.push(e),
    });
  });

  it('connects, reports open and passes parsed frames on', () => {
    conn.start();
    expect(sockets).toHaveLength(1);
    expect(last().url).toBe('ws://example.test/game/ws');
    expect(statuses).toEqual(['connecting']);
    last().open();
    expect(statuses).toEqual(['connecting', 'open']);
    last().message('{"type":"stats","total_clicks":1,"players":2,"online":1}');
    last().message('garbage');
    last().message('{"type":"jump"}');
    expect(frames).toEqual([{ type: 'stats', total_clicks: 1, players: 2, online: 1 }]);
  });

  it('sends frames only while open', () => {
    conn.start();
    expect(conn.send({ type: 'click' })).toBe(false);
    last().open();
    expect(conn.send({ type: 'click' })).toBe(true);
    expect(conn.send({ type: 'resync' })).toBe(true);
    expect(last().sent).toEqual(['{"type":"click"}', '{"type":"resync"}']);
    last().fail(1001);
    expect(conn.send({ type: 'click' })).toBe(false);
  });

  it('reconnects with a growing backoff and resets it once a socket stayed open for 10 s', () => {
    conn.start();
    last().open();
    last().fail(1001);
    expect(statuses.at(-1)).toBe('offline');
    expect(timers.delays()).toEqual([500]);
    timers.fire();
    expect(sockets).toHaveLength(2);
    last().fail();
    expect(timers.delays()).toEqual([1000]);
    timers.fire();
    last().fail();
    expect(timers.delays()).toEqual([2000]);
    timers.fire();
    // Stays "offline" while retrying, not "connecting".
    expect(statuses.at(-1)).toBe('offline');
    last().open();
    expect(statuses.at(-1)).toBe('open');
    timers.advance(10_000);
    last().fail(1001);
    expect(timers.delays()).toEqual([500]);
  });

  it('keeps the delays growing while the server accepts and closes at once', () => {
    conn.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      last().open();
      timers.advance(9_999);
      last().fail(1000);
      delays.push(...timers.delays());
      timers.fire();
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10000]);
    // Sockets that open are not failed upgrades: no session check.
    expect(failureChecks).toEqual([]);
  });

  it('waits at least the longest delay after 1013 (try again later), then stays slow', () => {
    conn.start();
    last().open();
    last().fail(1013);
    expect(timers.delays()).toEqual([15_000]);
    timers.fire();
    last().fail();
    expect(timers.delays()).toEqual([10_000]);
    timers.fire();
    // Healthy again: the backoff starts over.
    last().open();
    timers.advance(10_000);
    last().fail(1001);
    expect(timers.delays()).toEqual([500]);
  });

  it('reconnects with the usual backoff after 1000 and 1001', () => {
    for (const code of [1000, 1001]) {
      conn.start();
      last().open();
      timers.advance(10_000);
      const before = sockets.length;
      last().fail(code);
      expect(conn.status).toBe('offline');
      expect(timers.delays()).toEqual([500]);
      timers.fire();
      expect(sockets).toHaveLength(before + 1);
      conn.stop();
    }
    expect(endings).toEqual([]);
  });

  it.each([
    [4003, 'banned: autoclicker', { kind: 'banned', reason: 'autoclicker' }],
    [4004, 'removed by a moderator', { kind: 'removed' }],
    [4008, 'too many frames', { kind: 'flood' }],
  ] as const)('stops for good on close code %i and says why', (code, reason, want) => {
    conn.start();
    last().open();
    last().fail(code, reason);
    expect(endings).toEqual([want]);
    expect(conn.ending).toEqual(want);
    expect(conn.status).toBe('idle');
    expect(statuses).not.toContain('offline');
    // Nothing pending, not even the healthy timer: no reconnect, ever.
    expect(timers.pending.size).toBe(0);
    expect(sockets).toHaveLength(1);
    expect(conn.send({ type: 'click' })).toBe(false);
  });

  it('marks a ban reason that fills the close frame as maybe cut', () => {
    conn.start();
    last().open();
    const long = 'x'.repeat(123 - 'banned: '.length);
    last().fail(4003, `banned: ${long}`);
    expect(endings).toEqual([{ kind: 'banned', reason: long, truncated: true }]);
  });

  it('caps the delay at 10 s', () => {
    conn.start();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      last().fail();
      delays.push(...timers.delays());
      timers.fire();
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000]);
  });

  it('asks for a session check after every 3 attempts that never opened', () => {
    conn.start();
    last().open();
    last().fail(1001); // was open: not a failed attempt
    for (let i = 0; i < 7; i++) {
      timers.fire();
      last().fail();
    }
    expect(failureChecks).toEqual([3, 6]);
  });

  it('stops for good when the session check says so', () => {
    const c = new Connection({
      url: 'ws://x/ws',
      socket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      timers,
      onFrame: () => {},
      onRepeatedFailure: () => c.stop(),
      failureCheckEvery: 2,
    });
    c.start();
    last().fail();
    timers.fire();
    last().fail();
    expect(timers.pending.size).toBe(0);
    expect(c.status).toBe('idle');
    expect(sockets).toHaveLength(2);
  });

  it('stop() closes the socket and cancels a pending reconnect', () => {
    conn.start();
    last().open();
    const first = last();
    conn.stop();
    expect(first.closedWith).toBe(1000);
    expect(statuses.at(-1)).toBe('idle');
    // Late events from the old socket are ignored.
    first.onclose?.({ code: 1006 });
    expect(timers.pending.size).toBe(0);

    conn.start();
    last().fail();
    expect(timers.pending.size).toBe(1);
    conn.stop();
    expect(timers.pending.size).toBe(0);
    expect(sockets).toHaveLength(2);
  });

  it('treats a throwing constructor as a failed attempt', () => {
    let calls = 0;
    const c = new Connection({
      url: 'ws://x/ws',
      socket: () => {
        calls++;
        throw new Error('bad url');
      },
      timers,
      onFrame: vi.fn(),
    });
    c.start();
    expect(calls).toBe(1);
    expect(c.status).toBe('offline');
    expect(timers.pending.size).toBe(1);
    c.stop();
  });
});
