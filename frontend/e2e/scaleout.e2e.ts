// Browser tests of the Redis mode: several nodes on one redis-server are one game, and a
// player rides out an outage of Redis or of the node it is on.
import { describe, expect, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import {
  browserSuite,
  WAIT,
  byTestId,
  clickTimes,
  expectNumber,
  expectRow,
  join_,
  numberIn,
  waitForLive,
  type ServerProcess,
} from './harness';

const { startServer, startRedis, player, tab } = browserSuite();

const PAUSED = "Paused: the game's storage is unreachable, retrying";

/** The page's reconnect backoff is capped at 10 s; allow a little more than that. */
const RECONNECT = { timeout: 25_000 };

async function readyz(srv: ServerProcess): Promise<number> {
  return (await fetch(new URL('readyz', srv.url))).status;
}

async function expectReady(srv: ServerProcess, want: number): Promise<void> {
  await vi.waitFor(async () => {
    const got = await readyz(srv);
    if (got !== want) throw new Error(`/readyz answered ${got}, want ${want}`);
  }, WAIT);
}

async function focusedTestId(page: Page): Promise<string | null | undefined> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
}

describe('Click the Button on several nodes sharing one Redis', () => {
  it('two players on two nodes see each other on the leaderboard', async () => {
    const redis = await startRedis();
    const one = await startServer(['--redis', redis.url]);
    const two = await startServer(['--redis', redis.url]);
    const a = await player(one.url);
    const b = await player(two.url);
    await join_(a.page, 'Ann');
    await join_(b.page, 'Ben');

    await clickTimes(a.page, 5);
    await clickTimes(b.page, 3);

    // Each sees the other's row, pushed by the other node through Redis.
    await expectRow(a.page, (r) => r.handle === 'Ben' && r.best === 3 && !r.mine, 'Ben from the other node');
    await expectRow(b.page, (r) => r.handle === 'Ann' && r.best === 5 && !r.mine, 'Ann from the other node');
    await expectRow(a.page, (r) => r.handle === 'Ann' && r.best === 5 && r.mine, 'Ann in her own page');
    await expectRow(b.page, (r) => r.handle === 'Ben' && r.best === 3 && r.mine, 'Ben in his own page');

    // One set of counters: both pages and both nodes' APIs agree.
    for (const p of [a.page, b.page]) {
      await expectNumber(p, 'total-clicks', 8);
      await expectNumber(p, 'players-count', 2);
    }
    for (const srv of [one, two]) {
      const stats = (await (await fetch(new URL('api/stats', srv.url))).json()) as { total_clicks: number };
      expect(stats.total_clicks, `total clicks on ${srv.url}`).toBe(8);
    }
  });

  it('pauses while Redis is down and goes on from every acknowledged click', async () => {
    const redis = await startRedis();
    const srv = await startServer(['--redis', redis.url]);
    const a = await player(srv.url);
    await join_(a.page, 'Patient');
    await clickTimes(a.page, 5);
    await expectReady(srv, 200);

    expect(await redis.stop(), `redis-server exit code; output:\n${redis.output}`).toBe(0);

    // A click now is refused with the paused notice; the socket stays open.
    const button = byTestId(a.page, 'click-button');
    await button.click();
    const notice = byTestId(a.page, 'paused-notice');
    await notice.waitFor({ state: 'visible' });
    expect((await notice.textContent())?.trim()).toBe(PAUSED);
    expect(await notice.getAttribute('role')).toBe('status');
    expect(await a.page.locator('[aria-live="polite"] [data-testid="paused-notice"]').count()).toBe(1);
    expect(await byTestId(a.page, 'offline-notice').count()).toBe(0);
    expect(await button.isEnabled()).toBe(true);
    expect(await focusedTestId(a.page)).toBe('click-button');
    expect(await numberIn(a.page, 'score')).toBe(5);
    await expectReady(srv, 503);

    // Another tab of the same player cannot load its session meanwhile and says why.
    const other = await tab(a, srv.url);
    await vi.waitFor(async () => {
      const text = (await byTestId(other, 'loading').textContent())?.trim();
      if (text !== PAUSED) throw new Error(`loading text: ${JSON.stringify(text)}`);
    }, WAIT);

    // Redis comes back on the same port and folder; its append-only file kept the game.
    await redis.start();
    await expectReady(srv, 200);
    await button.click();
    await expectNumber(a.page, 'score', 6);
    await notice.waitFor({ state: 'detached' });
    await clickTimes(a.page, 2);
    await expectNumber(a.page, 'score', 8);
    await expectNumber(a.page, 'best', 8);
    await expectRow(a.page, (r) => r.handle === 'Patient' && r.best === 8 && r.mine, 'own row after the outage');

    // The other tab got in by itself, with the same score.
    await waitForLive(other);
    await expectNumber(other, 'score', 8);
  });

  it('reconnects by itself when a node is killed and another answers at its address', async () => {
    const redis = await startRedis();
    const first = await startServer(['--redis', redis.url]);
    const a = await player(first.url);
    await join_(a.page, 'Crasher');
    await clickTimes(a.page, 3);

    // Click steadily (well under the throttle's 50 a second) while the node dies.
    await a.page.evaluate(() => {
      const button = document.querySelector<HTMLButtonElement>('[data-testid="click-button"]');
      if (!button) throw new Error('no button');
      const w = window as unknown as { clicker: number; sent: number };
      w.sent = 0;
      w.clicker = window.setInterval(() => {
        if (button.getAttribute('aria-disabled') === 'true') return;
        w.sent++;
        button.click();
      }, 50);
    });
    await vi.waitFor(async () => {
      const score = await numberIn(a.page, 'score');
      if (score < 8) throw new Error(`score ${score}, want some acknowledged clicks first`);
    }, WAIT);
    await first.kill();

    await byTestId(a.page, 'offline-notice').waitFor({ state: 'visible' });
    const sent = await a.page.evaluate(() => {
      const w = window as unknown as { clicker: number; sent: number };
      window.clearInterval(w.clicker);
      return w.sent;
    });
    // The socket is closed, so this is the last acknowledged score.
    const acknowledged = await numberIn(a.page, 'score');
    expect(acknowledged).toBeGreaterThanOrEqual(8);
    expect(await byTestId(a.page, 'click-button').isDisabled()).toBe(true);

    // A new node, with a folder of its own, on the same address and the same Redis.
    await startServer(['--redis', redis.url], first.port);
    await byTestId(a.page, 'offline-notice').waitFor({ state: 'detached', ...RECONNECT });
    await waitForLive(a.page);

    // Every acknowledged click is there; a click sent as the node died may be too. The
    // page shows what the game holds (asked of the new node with the page's own cookie).
    const after = await a.page.evaluate(async () => {
      const res = await fetch('api/session', { cache: 'no-store' });
      return ((await res.json()) as { score: number }).score;
    });
    expect(after).toBeGreaterThanOrEqual(acknowledged);
    expect(after).toBeLessThanOrEqual(3 + sent);
    await expectNumber(a.page, 'score', after);
    await clickTimes(a.page, 2);
    await expectNumber(a.page, 'best', after + 2);
    await expectRow(a.page, (r) => r.handle === 'Crasher' && r.best === after + 2 && r.mine, 'own row on the new node');
  });
});
