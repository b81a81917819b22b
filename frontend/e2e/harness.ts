// Helpers for the browser tests: run the real server binary and drive Debian's Chromium.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, vi } from 'vitest';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Waits for conditions: generous, for a slow shared machine. */
export const WAIT = { timeout: 15_000, interval: 100 };

export function binaryPath(): string {
  const p = process.env.CTB_BIN || 'bin/clickthebutton';
  return isAbsolute(p) ? p : resolve(repoRoot, p);
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'ctb-e2e-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

const running = new Set<ChildProcess>();

// Last resort: never leave a server or a redis-server behind, even if a test run is aborted.
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/**
 * A child process that can be stopped, killed and started again with the same arguments
 * (same port, same folder), keeping its output for the error messages.
 */
abstract class Child {
  private proc: ChildProcess | null = null;
  private exit: Promise<number | null> | null = null;
  output = '';

  /** What the process is, in messages. */
  protected abstract readonly what: string;

  /**
   * Spawns the process, with env added to this process's environment, and waits until
   * ready() passes; fails as soon as it exits.
   */
  protected async launch(
    cmd: string,
    args: string[],
    ready: () => Promise<void>,
    env: Record<string, string> = {},
  ): Promise<void> {
    if (this.proc) throw new Error(`${this.what} is already running`);
    const proc = spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.proc = proc;
    running.add(proc);
    const append = (b: Buffer) => {
      this.output += b.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    this.exit = new Promise((ok) => {
      proc.on('exit', (code) => {
        running.delete(proc);
        ok(code);
      });
      proc.on('error', (err) => {
        this.output += `\nspawn error: ${String(err)}`;
        running.delete(proc);
        ok(null);
      });
    });
    let exited = false;
    void this.exit.then(() => {
      exited = true;
    });
    const early = () => new Error(`${this.what} exited early:\n${this.output}`);
    await vi.waitFor(
      async () => {
        if (exited) throw early();
        await ready();
      },
      { timeout: 20_000, interval: 100 },
    ).catch((err: unknown) => {
      throw exited ? early() : err;
    });
    if (exited) throw early();
  }

  /** SIGTERM, then SIGKILL after a timeout. Resolves to the exit code (null if killed). */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    const proc = this.proc;
    const exit = this.exit;
    if (!proc || !exit) return null;
    this.proc = null;
    this.exit = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<'timeout'>((ok) => {
      timer = setTimeout(() => ok('timeout'), timeoutMs);
    });
    const first = await Promise.race([exit, killed]);
    clearTimeout(timer);
    if (first === 'timeout') {
      proc.kill('SIGKILL');
      await exit;
      throw new Error(`${this.what} did not exit within ${timeoutMs} ms of SIGTERM:\n${this.output}`);
    }
    return first;
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    const exit = this.exit;
    if (!proc || !exit) return;
    this.proc = null;
    this.exit = null;
    proc.kill('SIGKILL');
    await exit;
  }
}

export class ServerProcess extends Child {
  readonly port: number;
  readonly dataDir: string;
  readonly url: string;
  protected readonly what = 'server';

  /** env: variables added to the server's environment, e.g. CTB_ADMIN_TOKEN. */
  constructor(
    port: number,
    dataDir: string,
    readonly extraArgs: string[] = [],
    readonly env: Record<string, string> = {},
  ) {
    super();
    this.port = port;
    this.dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}/`;
  }

  /** Starts the binary, again after stop() or kill() too; resolves once /healthz answers. */
  async start(): Promise<void> {
    const bin = binaryPath();
    if (!existsSync(bin)) {
      throw new Error(`server binary not found at ${bin}; build it (make build) or set CTB_BIN`);
    }
    const args = ['--addr', `127.0.0.1:${this.port}`, '--data', this.dataDir, ...this.extraArgs];
    await this.launch(
      bin,
      args,
      async () => {
        const res = await fetch(new URL('healthz', this.url));
        if (res.status !== 200) throw new Error(`healthz ${res.status}`);
      },
      this.env,
    );
  }
}

/** A moderator: the admin API of a server started with CTB_ADMIN_TOKEN (docs/admin.md). */
export class Admin {
  constructor(
    readonly srv: ServerProcess,
    readonly token: string,
  ) {}

  /** One call; fails unless the server answers 200. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(new URL(`api/admin/${path}`, this.srv.url), {
      method,
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${method} api/admin/${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as unknown;
  }

  /** The id of the one player with this handle. */
  async idOf(handle: string): Promise<string> {
    const list = (await this.call('GET', `players?q=${encodeURIComponent(handle)}`)) as {
      players: Array<{ id: string; handle: string }>;
    };
    const found = list.players.filter((p) => p.handle === handle);
    if (found.length !== 1) throw new Error(`${found.length} players named ${handle}: ${JSON.stringify(list)}`);
    return found[0]!.id;
  }

  player(id: string): Promise<unknown> {
    return this.call('GET', `players/${id}`);
  }

  ban(id: string, reason: string): Promise<unknown> {
    return this.call('POST', `players/${id}/ban`, { reason });
  }

  unban(id: string): Promise<unknown> {
    return this.call('DELETE', `players/${id}/ban`);
  }

  remove(id: string): Promise<unknown> {
    return this.call('DELETE', `players/${id}`);
  }

  rename(id: string, handle: string): Promise<unknown> {
    return this.call('POST', `players/${id}/rename`, { handle });
  }
}

/** Sends PING over a raw connection and resolves to the first reply line. */
export function redisPing(port: number): Promise<string> {
  return new Promise((ok, fail) => {
    const sock = connect(port, '127.0.0.1');
    let reply = '';
    sock.setTimeout(2000, () => sock.destroy(new Error('no answer to PING')));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (b) => {
      reply += b.toString();
      const end = reply.indexOf('\r\n');
      if (end >= 0) {
        sock.destroy();
        ok(reply.slice(0, end));
      }
    });
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('closed before answering PING')));
  });
}

/**
 * A redis-server on a loopback port. Every write is in its append-only file before it
 * answers (appendfsync always), so a stop and a start on the same folder keep the game.
 */
export class RedisProcess extends Child {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  protected readonly what = 'redis-server';

  constructor(port: number, dir: string) {
    super();
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts redis-server, again after stop() too; resolves once it answers PONG (not LOADING). */
  async start(): Promise<void> {
    const bin = process.env.REDIS_SERVER || '/usr/bin/redis-server';
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes'];
    args.push('--appendfsync', 'always', '--dir', this.dir);
    await this.launch(bin, args, async () => {
      const reply = await redisPing(this.port);
      if (reply !== '+PONG') throw new Error(`PING answered ${reply}`);
    });
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROME_PATH || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

export interface Player {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors; a test fails when there are any. */
  errors: string[];
}

export async function newPlayer(browser: Browser, url: string): Promise<Player> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  const page = await openPage(context, url, errors);
  return { context, page, errors };
}

/** Opens url in a new page of context, collecting its errors into errors. */
export async function openPage(context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    // Failed requests (401 on first visit, refused connections while the server restarts,
    // 503 while the game's storage is unreachable) are expected; anything else logged as
    // an error (e.g. a CSP violation) is not.
    const text = msg.text();
    if (msg.type() === 'error' && !/Failed to load resource|WebSocket connection to|ERR_CONNECTION_REFUSED/.test(text)) {
      errors.push(`console: ${text}`);
    }
  });
  await page.goto(url);
  return page;
}

export const byTestId = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);

/** The number shown in an element, thousands separators removed. */
export async function numberIn(page: Page, id: string): Promise<number> {
  const text = (await byTestId(page, id).first().textContent()) ?? '';
  const digits = text.replace(/[^\d]/g, '');
  if (digits === '') throw new Error(`no number in ${id}: ${JSON.stringify(text)}`);
  return Number(digits);
}

export async function expectNumber(page: Page, id: string, want: number): Promise<void> {
  await vi.waitFor(async () => {
    const got = await numberIn(page, id);
    if (got !== want) throw new Error(`${id} is ${got}, want ${want}`);
  }, WAIT);
}

/** Enters a handle on the first-visit form and waits for the game screen with a live socket. */
export async function join_(page: Page, handle: string): Promise<void> {
  await byTestId(page, 'handle-input').fill(handle);
  await byTestId(page, 'handle-submit').click();
  await waitForLive(page);
}

/**
 * The game screen is shown and the click button is enabled (socket open). The button is
 * disabled with aria-disabled, not the disabled attribute, so it keeps the focus offline.
 */
export async function waitForLive(page: Page): Promise<void> {
  await page.locator('[data-testid="click-button"]:not([aria-disabled="true"])').waitFor({ state: 'visible' });
}

export interface BoardRow {
  rank: string;
  handle: string;
  best: number;
  mine: boolean;
}

export async function boardRows(page: Page): Promise<BoardRow[]> {
  return page.$$eval('[data-testid="leaderboard-row"]', (els) =>
    els.map((el) => ({
      rank: el.querySelector('[data-testid="row-rank"]')?.textContent?.trim() ?? '',
      handle: el.querySelector('[data-testid="row-handle"]')?.textContent?.trim() ?? '',
      best: Number((el.querySelector('[data-testid="row-best"]')?.textContent ?? '').replace(/[^\d]/g, '')),
      mine: el.getAttribute('aria-current') === 'true',
    })),
  );
}

/** Waits until a leaderboard row matches. */
export async function expectRow(page: Page, match: (r: BoardRow) => boolean, what: string): Promise<BoardRow> {
  return vi.waitFor(async () => {
    const rows = await boardRows(page);
    const row = rows.find(match);
    if (!row) throw new Error(`no leaderboard row with ${what}; rows: ${JSON.stringify(rows)}`);
    return row;
  }, WAIT);
}

/** Clicks the big button n times through the real UI, waiting for each answer's score. */
export async function clickTimes(page: Page, n: number): Promise<void> {
  const start = await numberIn(page, 'score');
  const button = byTestId(page, 'click-button');
  for (let i = 0; i < n; i++) await button.click();
  await expectNumber(page, 'score', start + n);
}

/** A test file's browser, servers, redis-servers and players, torn down after each test. */
export interface Suite {
  /**
   * Starts the real binary with a fresh data folder, on port or else a free one, with env
   * added to its environment.
   */
  startServer(extraArgs?: string[], port?: number, env?: Record<string, string>): Promise<ServerProcess>;
  /** Starts a redis-server on a free port with a fresh folder. */
  startRedis(): Promise<RedisProcess>;
  /** Opens a new browser context (a new player) on url. */
  player(url: string): Promise<Player>;
  /** Opens url in another tab of p (same cookies); its errors count as p's. */
  tab(p: Player, url: string): Promise<Page>;
  /** Stops srv after the test too, like the servers startServer made. */
  track(srv: ServerProcess): void;
}

/**
 * Registers the hooks every browser test file needs: one Chromium for the file; after
 * each test, close the players, stop the servers and redis-servers, remove their data
 * and fail the test if any page logged an error.
 */
export function browserSuite(): Suite {
  let browser: Browser | undefined;
  let servers: ServerProcess[] = [];
  let redises: RedisProcess[] = [];
  let players: Player[] = [];
  let dirs: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterEach(async () => {
    const errors = players.flatMap((p) => p.errors);
    for (const p of players) await p.context.close().catch(() => {});
    players = [];
    for (const s of servers) await s.stop().catch(() => {});
    servers = [];
    // After the servers, so that they write their last snapshot while Redis still answers.
    for (const r of redises) await r.stop().catch(() => {});
    redises = [];
    for (const d of dirs) removeDir(d);
    dirs = [];
    expect(errors, 'errors in the page').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
  });

  return {
    async startServer(extraArgs: string[] = [], port?: number, env: Record<string, string> = {}) {
      const dir = tempDataDir();
      dirs.push(dir);
      const srv = new ServerProcess(port ?? (await freePort()), dir, extraArgs, env);
      servers.push(srv);
      await srv.start();
      return srv;
    },
    async startRedis() {
      const dir = tempDataDir();
      dirs.push(dir);
      const redis = new RedisProcess(await freePort(), dir);
      redises.push(redis);
      await redis.start();
      return redis;
    },
    track(srv: ServerProcess) {
      servers.push(srv);
    },
    async player(url: string) {
      if (!browser) throw new Error('browser not started');
      const p = await newPlayer(browser, url);
      players.push(p);
      return p;
    },
    tab(p: Player, url: string) {
      return openPage(p.context, url, p.errors);
    },
  };
}
