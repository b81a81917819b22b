// Reactive game state for the components. The protocol and board logic lives in plain modules.
import { getSession, getStats, postSession, tidyHandle, wsUrl, type FetchLike } from './api';
import { Backoff } from './backoff';
import { applyDelta, applyFull, emptyBoard, markStale, type Board } from './board';
import { Connection, type ConnectionStatus, type SocketFactory, type Timers } from './connection';
import { Announcer } from './announcer';
import type { Ending } from './ending';
import { Pace } from './pace';
import {
  CODE_UNAVAILABLE,
  DEFAULT_RULES,
  pausedText,
  type Counters,
  type Rate,
  type RankFrame,
  type Rules,
  type ServerFrame,
  type Session,
} from './protocol';

/** "ended": the server refused this player for good or closed the game for a reason a
 * reconnect cannot fix (`ending` says which); nothing is retried. */
export type Phase = 'loading' | 'handle' | 'game' | 'ended';

export interface GameDeps {
  base: string;
  fetch?: FetchLike;
  socket?: SocketFactory;
  timers?: Timers;
}

export class Game {
  phase = $state<Phase>('loading');
  session = $state<Session | null>(null);
  /** The server's rules, for the notices' wording; kept across state frames. */
  rules = $state<Rules>(DEFAULT_RULES);
  board = $state.raw<Board>(emptyBoard);
  counters = $state<Counters | null>(null);
  /** The most players online at once: the server's figure when the socket opened, raised
   * by every online count seen since (a peak only grows). */
  peakOnline = $state<number | null>(null);
  status = $state<ConnectionStatus>('idle');
  /** Epoch ms when the next click counts again, while throttled. */
  throttleDeadline = $state(0);
  /** Shown while the first GET api/session fails; it says that the page retries. */
  loadError = $state('');
  /**
   * The server's notice while the game's storage is unreachable, null otherwise. A click
   * answered with code "unavailable" sets it; the next state frame clears it, since one
   * is only sent once a click or the tick reached the storage again.
   */
  paused = $state<string | null>(null);
  /** The player's rank and neighbours from the last rank frame; null before the first. */
  rank = $state.raw<RankFrame | null>(null);
  /** True while the rename form is open over the game screen. */
  renaming = $state(false);
  /** Why the page stopped for good, in phase "ended". */
  ending = $state<Ending | null>(null);
  /** The game's clicks per second over the last minute, oldest first; null until the server sent it. */
  rate = $state.raw<Rate | null>(null);
  /** The player's own pace this session; paceSeen changes whenever it took a click. */
  readonly pace = new Pace();
  paceSeen = $state(0);
  /** The live region's sentence: milestones and rank changes, at most every few seconds. */
  announcement = $state('');

  private readonly deps: GameDeps;
  private conn: Connection | null = null;
  private resyncPending = false;
  private loadRetry: ReturnType<typeof setTimeout> | null = null;
  private readonly loadBackoff = new Backoff();
  private destroyed = false;
  private readonly announcer = new Announcer();
  private announceTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(deps: GameDeps) {
    this.deps = deps;
  }

  get online(): boolean {
    return this.status === 'open';
  }

  async init(): Promise<void> {
    const res = await getSession(this.deps.base, this.fetchFn);
    if (this.destroyed) return;
    switch (res.kind) {
      case 'ok':
        this.loadError = '';
        this.enterGame(res.session);
        break;
      case 'none':
        this.loadError = '';
        this.phase = 'handle';
        break;
      case 'banned':
        this.finish({ kind: 'banned', reason: res.reason });
        break;
      case 'error':
        // The storage's notice already says that the page retries.
        this.loadError = res.code === CODE_UNAVAILABLE ? res.message : `${res.message} Retrying…`;
        this.loadRetry = setTimeout(() => void this.init(), this.loadBackoff.next());
        break;
    }
  }

  /** POSTs the handle; resolves to the error text to show, or null on success. */
  async submitHandle(raw: string): Promise<string | null> {
    const handle = tidyHandle(raw);
    const res = await postSession(this.deps.base, handle, this.fetchFn);
    if (this.destroyed || this.phase === 'ended') return null;
    if (res.kind === 'invalid') return res.error;
    // "handle_locked" lands here too: the form shows the server's words.
    if (res.kind === 'error') return res.message;
    if (res.kind === 'banned') {
      this.finish({ kind: 'banned', reason: res.reason });
      return null;
    }
    this.renaming = false;
    this.enterGame(res.session);
    return null;
  }

  startRename(): void {
    this.renaming = true;
  }

  cancelRename(): void {
    this.renaming = false;
  }

  /** After a removal: load the session again, which brings the player back afresh. */
  async playAgain(): Promise<void> {
    if (this.phase !== 'ended' || this.destroyed) return;
    this.ending = null;
    this.loadError = '';
    this.loadBackoff.reset();
    this.board = emptyBoard;
    this.counters = null;
    this.phase = 'loading';
    await this.init();
  }

  click(): boolean {
    return this.conn?.send({ type: 'click' }) ?? false;
  }

  destroy(): void {
    this.destroyed = true;
    if (this.loadRetry !== null) clearTimeout(this.loadRetry);
    if (this.announceTimer !== null) clearTimeout(this.announceTimer);
    this.conn?.stop();
    this.conn = null;
  }

  private get fetchFn(): FetchLike {
    return this.deps.fetch ?? ((input, init) => fetch(input, init));
  }

  private enterGame(session: Session): void {
    this.applySession(session);
    this.phase = 'game';
    this.connect();
  }

  private applySession(s: Session): void {
    if (s.rules) this.rules = s.rules;
    this.session = s;
    this.throttleDeadline = s.throttled ? Date.now() + s.retry_after_ms : 0;
  }

  private connect(): void {
    if (this.conn) return;
    this.conn = new Connection({
      url: wsUrl(this.deps.base),
      socket: this.deps.socket,
      timers: this.deps.timers,
      onFrame: (f) => this.onFrame(f),
      onStatus: (s) => {
        this.status = s;
        if (s === 'open') {
          void this.loadStats();
          // The server sends state and a full board on connect; never apply a delta
          // to the board from before the reconnect.
          this.resyncPending = false;
          this.board = markStale(this.board);
        }
      },
      onRepeatedFailure: () => void this.recheckSession(),
      onBadFrame: (data) => console.warn('ignoring malformed frame', data),
      onEnd: (e) => this.finish(e),
    });
    this.conn.start();
  }

  /** Stops everything for good and says why: no socket, no retry, no form, no button. */
  private finish(e: Ending): void {
    if (this.loadRetry !== null) {
      clearTimeout(this.loadRetry);
      this.loadRetry = null;
    }
    this.conn?.stop();
    this.conn = null;
    this.status = 'idle';
    this.paused = null;
    this.renaming = false;
    this.session = null;
    this.throttleDeadline = 0;
    this.ending = e;
    this.phase = 'ended';
    if (e.kind === 'banned' && e.truncated) void this.readBanReason();
  }

  /** A close frame holds only the start of a long ban reason; the session answer has all of it. */
  private async readBanReason(): Promise<void> {
    const res = await getSession(this.deps.base, this.fetchFn);
    if (this.destroyed || this.ending?.kind !== 'banned') return;
    if (res.kind === 'banned') this.ending = { kind: 'banned', reason: res.reason };
  }

  /**
   * Reconnects keep failing: is the cookie still good? 401 means back to the handle form;
   * a ban (the upgrade's 403 is invisible to a browser's WebSocket) ends the game.
   */
  private async recheckSession(): Promise<void> {
    const res = await getSession(this.deps.base, this.fetchFn);
    if (this.destroyed || this.phase === 'ended') return;
    if (res.kind === 'banned') {
      this.finish({ kind: 'banned', reason: res.reason });
    } else if (res.kind === 'none') {
      this.conn?.stop();
      this.conn = null;
      this.status = 'idle';
      this.session = null;
      this.renaming = false;
      this.phase = 'handle';
    } else if (res.kind === 'ok') {
      this.applySession(res.session);
    }
  }

  private async loadStats(): Promise<void> {
    const st = await getStats(this.deps.base, this.fetchFn);
    if (!st || this.destroyed) return;
    this.peakOnline = Math.max(st.peak_online, this.peakOnline ?? 0);
    // A frame's rate is newer than the answer to a request sent before it.
    if (st.rate && this.rate === null) this.rate = st.rate;
  }

  /** The player's position on the board shown, null when not on it. */
  get myPosition(): number | null {
    const tag = this.session?.tag;
    if (!tag) return null;
    const i = this.board.rows.findIndex((r) => r.tag === tag);
    return i < 0 ? null : i + 1;
  }

  /** Tells the announcer what the player sees now, and schedules what it holds back. */
  private noteProgress(): void {
    if (!this.session) return;
    const now = Date.now();
    const text = this.announcer.observe({ score: this.session.score, rank: this.myPosition }, now);
    if (text !== null) this.announcement = text;
    if (this.announcer.pending && this.announceTimer === null) {
      this.announceTimer = setTimeout(() => {
        this.announceTimer = null;
        if (this.destroyed) return;
        const later = this.announcer.flush(Date.now());
        if (later !== null) this.announcement = later;
        if (this.announcer.pending) this.noteProgress();
      }, 1000);
    }
  }

  private setCounters(c: Counters): void {
    this.counters = { total_clicks: c.total_clicks, players: c.players, online: c.online };
    if (this.peakOnline !== null) this.peakOnline = Math.max(this.peakOnline, c.online);
  }

  private onFrame(f: ServerFrame): void {
    this.applyFrame(f);
    if (f.type === 'state') {
      this.pace.observe(f.total, Date.now());
      this.paceSeen++;
    }
    if (f.type === 'stats' || f.type === 'board') {
      if (f.rate) this.rate = f.rate;
    }
    if (f.type !== 'error') this.noteProgress();
  }

  private applyFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'state': {
        const { type: _type, ...s } = f;
        this.paused = null;
        this.applySession(s);
        break;
      }
      case 'board':
        this.resyncPending = false;
        this.board = applyFull(f);
        this.setCounters(f);
        break;
      case 'board_delta': {
        this.setCounters(f);
        if (this.resyncPending) break;
        const r = applyDelta(this.board, f);
        if (r.ok) {
          this.board = r.board;
        } else {
          this.resyncPending = this.conn?.send({ type: 'resync' }) ?? false;
        }
        break;
      }
      case 'stats':
        this.setCounters(f);
        break;
      case 'rank':
        this.rank = f;
        break;
      case 'error': {
        const notice = pausedText(f);
        if (notice !== null) this.paused = notice;
        else console.warn('server refused a frame:', f.error);
        break;
      }
    }
  }
}
