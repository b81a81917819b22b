// WebSocket lifecycle: connect, parse frames, reconnect with backoff, and stop for good
// when the server's close code says that reconnecting cannot help.
// The WebSocket constructor and timers are injectable so this runs under unit tests.
import { Backoff } from './backoff';
import { closeVerdict, type Ending } from './ending';
import { encodeFrame, parseFrame, type ClientFrame, type ServerFrame } from './protocol';

/** The part of the browser WebSocket this module uses. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'offline';

export interface ConnectionOptions {
  url: string;
  socket?: SocketFactory;
  timers?: Timers;
  backoff?: Backoff;
  onFrame: (frame: ServerFrame) => void;
  onStatus?: (status: ConnectionStatus) => void;
  /**
   * Called after every `failureCheckEvery` consecutive attempts that never opened,
   * so the page can re-check its session (a 401 on the upgrade looks like a plain close).
   */
  onRepeatedFailure?: (failures: number) => void;
  failureCheckEvery?: number;
  onBadFrame?: (data: unknown) => void;
  /**
   * Called once when the server closed with a code that reconnecting cannot fix (banned,
   * removed, flood); the connection has stopped for good by then.
   */
  onEnd?: (ending: Ending) => void;
  /**
   * How long a socket must stay open before the backoff starts over (default 10 s): a
   * server that accepts and closes at once is retried with growing delays.
   */
  healthyAfterMs?: number;
}

export const HEALTHY_AFTER_MS = 10_000;

const OPEN = 1;

const browserSocket: SocketFactory = (url) => new WebSocket(url) as unknown as SocketLike;

const browserTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
};

export class Connection {
  private readonly opts: ConnectionOptions;
  private readonly socketFactory: SocketFactory;
  private readonly timers: Timers;
  readonly backoff: Backoff;
  private ws: SocketLike | null = null;
  private timer: unknown = null;
  /** Resets the backoff once the open socket proved healthy. */
  private healthyTimer: unknown = null;
  private stopped = true;
  private opened = false;
  /** Consecutive attempts that closed without ever opening. */
  failures = 0;
  status: ConnectionStatus = 'idle';
  /** Why the connection stopped for good, once the server said so. */
  ending: Ending | null = null;
  /** Frames sent on the current socket, to recognise a flood close that lost its frame. */

  constructor(opts: ConnectionOptions) {
    this.opts = opts;
    this.socketFactory = opts.socket ?? browserSocket;
    this.timers = opts.timers ?? browserTimers;
    this.backoff = opts.backoff ?? new Backoff();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.ending = null;
    this.backoff.reset();
    this.connect();
  }

  /** Closes the socket for good; no reconnects until start() is called again. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    this.clearHealthy();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onerror = ws.onmessage = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        // already closed
      }
    }
    this.setStatus('idle');
  }

  /** Sends a frame if the socket is open; false otherwise. */
  send(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(encodeFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  get isOpen(): boolean {
    return this.status === 'open';
  }

  private setStatus(s: ConnectionStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.opts.onStatus?.(s);
  }

  private connect(): void {
    this.timer = null;
    if (this.stopped) return;
    this.opened = false;
    if (this.status !== 'offline') this.setStatus('connecting');
    let ws: SocketLike;
    try {
      ws = this.socketFactory(this.opts.url);
    } catch {
      this.onClosed();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opened = true;
      // The upgrade went through, so the cookie is good: no session check for now. The
      // backoff starts over only once the socket stayed open for a while.
      this.failures = 0;
      this.clearHealthy();
      this.healthyTimer = this.timers.setTimeout(() => {
        this.healthyTimer = null;
        this.backoff.reset();
      }, this.opts.healthyAfterMs ?? HEALTHY_AFTER_MS);
      this.setStatus('open');
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const frame = parseFrame(ev.data);
      if (frame) this.opts.onFrame(frame);
      else this.opts.onBadFrame?.(ev.data);
    };
    ws.onerror = () => {
      // A close event always follows; reconnecting happens there.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClosed(ev.code, ev.reason);
    };
  }

  private clearHealthy(): void {
    if (this.healthyTimer !== null) {
      this.timers.clearTimeout(this.healthyTimer);
      this.healthyTimer = null;
    }
  }

  private onClosed(code?: number, reason?: string): void {
    if (this.stopped) return;
    this.clearHealthy();
    const verdict = closeVerdict(code, reason);
    if (verdict.kind === 'end') {
      this.stop();
      this.ending = verdict.ending;
      this.opts.onEnd?.(verdict.ending);
      return;
    }
    if (!this.opened) this.failures++;
    this.opened = false;
    this.setStatus('offline');
    const every = this.opts.failureCheckEvery ?? 3;
    if (this.failures > 0 && this.failures % every === 0) {
      this.opts.onRepeatedFailure?.(this.failures);
      if (this.stopped) return;
    }
    const delay = verdict.kind === 'later' ? this.backoff.later() : this.backoff.next();
    this.timer = this.timers.setTimeout(() => this.connect(), delay);
  }
}
