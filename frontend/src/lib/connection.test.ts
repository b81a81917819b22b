import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from './backoff';
import { Connection, type ConnectionStatus, type SocketLike, type Timers } from './connection';
import type { ServerFrame } from './protocol';

class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  sent: string[] = [];
  closedWith: number | undefined;
  constructor(readonly url: string) {}
  send(data: string) {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(data);
  }
  close(code?: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // Test helpers, as the browser would fire them.
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(data: unknown) {
    this.onmessage?.({ data });
  }
  fail(code = 1006) {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code });
  }
}

class FakeTimers implements Timers {
  now = 0;
  private nextId = 1;
  pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(id: unknown) {
    this.pending.delete(id as number);
  }
  /** Delays of the pending timers. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.at - this.now);
  }
  /** Runs the earliest pending timer. */
  fire() {
    const [id, t] = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)[0]!;
    this.pending.delete(id);
    this.now = t.at;
    t.fn();
  }
}

describe('Connection', () => {
  let sockets: FakeSocket[];
  let timers: FakeTimers;
  let frames: ServerFrame[];
  let statuses: ConnectionStatus[];
  let failureChecks: number[];
  let conn: Connection;
  const last = () => sockets[sockets.length - 1]!;

  beforeEach(() => {
    sockets = [];
    timers = new FakeTimers();
    frames = [];
    statuses = [];
    failureChecks = [];
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

  it('reconnects with a growing backoff and resets it after a successful open', () => {
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
    last().fail(1001);
    expect(timers.delays()).toEqual([500]);
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
