// Fakes for the unit tests: a socket the test opens, feeds and closes as a browser would,
// and timers that run only when the test says so. Not part of the page.
import type { SocketLike, Timers } from './connection';

export class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  sent: string[] = [];
  closedWith: number | undefined;
  constructor(readonly url = '') {}
  send(data: string) {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(data);
  }
  close(code?: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // As the browser would fire them.
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(data: unknown) {
    this.onmessage?.({ data });
  }
  frame(f: object) {
    this.message(JSON.stringify(f));
  }
  /** The socket failed or the server closed it, with this code and reason. */
  fail(code = 1006, reason = '') {
    this.readyState = 3;
    if (code === 1006) this.onerror?.({});
    this.onclose?.({ code, reason });
  }
}

export class FakeTimers implements Timers {
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
  /** Delays of the pending timers, soonest first. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }
  /** Runs the earliest pending timer, moving the clock to it. */
  fire() {
    const [id, t] = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)[0]!;
    this.pending.delete(id);
    this.now = t.at;
    t.fn();
  }
  /** Moves the clock on by ms, running every timer due meanwhile. */
  advance(ms: number) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}
