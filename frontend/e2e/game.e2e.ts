// Browser tests against the real server binary (CTB_BIN, default bin/clickthebutton).
import { describe, expect, it, vi } from 'vitest';
import {
  browserSuite,
  WAIT,
  boardRows,
  byTestId,
  clickTimes,
  expectNumber,
  expectRow,
  join_,
  numberIn,
  waitForLive,
  ServerProcess,
} from './harness';

const { startServer, player, track } = browserSuite();

describe('Click the Button in a browser', () => {
  it('two players see each other on the leaderboard', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    const b = await player(srv.url);
    await join_(a.page, 'Alice');
    await join_(b.page, 'Bob');

    // The button gets focus on entering the game screen.
    await vi.waitFor(async () => {
      const id = await a.page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
      if (id !== 'click-button') throw new Error(`focused: ${id}`);
    }, WAIT);

    const n = 7;
    await clickTimes(a.page, n);
    await expectNumber(a.page, 'best', n);

    const seen = await expectRow(b.page, (r) => r.handle === 'Alice' && r.best === n, `Alice with best ${n}`);
    expect(seen.mine).toBe(false);
    expect(seen.rank).toBe('1');

    const mine = await expectRow(a.page, (r) => r.handle === 'Alice' && r.best === n, 'Alice in her own page');
    expect(mine.mine).toBe(true);
    expect(await a.page.locator('[data-testid="leaderboard-row"][aria-current="true"]').count()).toBe(1);
    const bobRowInA = (await boardRows(a.page)).find((r) => r.handle === 'Bob');
    if (bobRowInA) expect(bobRowInA.mine).toBe(false);

    for (const p of [a.page, b.page]) {
      await expectNumber(p, 'total-clicks', n);
      await expectNumber(p, 'online-count', 2);
      await expectNumber(p, 'players-count', 2);
      await expectNumber(p, 'peak-online', 2);
    }

    // Bob's click shows up in Alice's page too.
    await clickTimes(b.page, 2);
    await expectRow(a.page, (r) => r.handle === 'Bob' && r.best === 2 && !r.mine, 'Bob with best 2');
    await expectNumber(a.page, 'total-clicks', n + 2);

    // Online count drops when Bob leaves.
    await b.context.close();
    await expectNumber(a.page, 'online-count', 1);
  });

  it('keeps the handle and score over a reload', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    await join_(a.page, 'Reloader');
    await clickTimes(a.page, 5);
    await expectNumber(a.page, 'best', 5);

    await a.page.reload();
    await waitForLive(a.page);
    expect(await byTestId(a.page, 'handle-form').count()).toBe(0);
    expect(await byTestId(a.page, 'player-handle').textContent()).toBe('Reloader');
    expect(await numberIn(a.page, 'score')).toBe(5);
    expect(await numberIn(a.page, 'best')).toBe(5);
    await expectRow(a.page, (r) => r.handle === 'Reloader' && r.best === 5 && r.mine, 'own row after reload');
  });

  it('shows the throttle notice after a bot-like burst', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    await join_(a.page, 'Speedy');
    expect(await byTestId(a.page, 'throttle-notice').count()).toBe(0);

    await a.page.evaluate(() => {
      const button = document.querySelector<HTMLButtonElement>('[data-testid="click-button"]');
      if (!button) throw new Error('no button');
      for (let i = 0; i < 80; i++) button.click();
    });

    const notice = byTestId(a.page, 'throttle-notice');
    await notice.waitFor({ state: 'visible' });
    expect(await notice.textContent()).toMatch(/more than 50 clicks in 1 second/i);
    const countdown = (await byTestId(a.page, 'throttle-countdown').textContent()) ?? '';
    expect(countdown).toMatch(/\d/);

    // Let every answer arrive: the score must stay the same for a while.
    let last = -1;
    let stable = 0;
    await vi.waitFor(
      async () => {
        const now = await numberIn(a.page, 'score');
        stable = now === last ? stable + 1 : 0;
        last = now;
        if (stable < 5) throw new Error(`score still moving: ${now}`);
      },
      { timeout: 15_000, interval: 200 },
    );
    expect(last).toBeGreaterThan(0);
    expect(last).toBeLessThanOrEqual(51);
    await notice.waitFor({ state: 'visible' });
  });

  it('keeps scores over a server restart and reconnects by itself', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    await join_(a.page, 'Survivor');
    await clickTimes(a.page, 6);
    await expectNumber(a.page, 'best', 6);
    expect(await byTestId(a.page, 'offline-notice').count()).toBe(0);

    const code = await srv.stop();
    expect(code, `exit code after SIGTERM; output:\n${srv.output}`).toBe(0);
    await byTestId(a.page, 'offline-notice').waitFor({ state: 'visible' });
    expect(await byTestId(a.page, 'click-button').isDisabled()).toBe(true);

    const again = new ServerProcess(srv.port, srv.dataDir);
    track(again);
    await again.start();

    // Backoff is capped at 10 s, so allow a little more than that.
    await byTestId(a.page, 'offline-notice').waitFor({ state: 'detached', timeout: 25_000 });
    await waitForLive(a.page);
    await expectNumber(a.page, 'score', 6);
    await expectNumber(a.page, 'best', 6);
    await expectRow(a.page, (r) => r.handle === 'Survivor' && r.best === 6 && r.mine, 'own row after restart');
    // And the game goes on.
    await clickTimes(a.page, 1);
    await expectNumber(a.page, 'best', 7);
  });

  it("shows the server's error for a bad handle", async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    await byTestId(a.page, 'handle-input').fill('<script>');
    await byTestId(a.page, 'handle-submit').click();
    const error = byTestId(a.page, 'handle-error');
    await error.waitFor({ state: 'visible' });
    expect(((await error.textContent()) ?? '').trim()).not.toBe('');
    expect(await error.textContent()).toMatch(/handle/i);
    expect(await byTestId(a.page, 'handle-input').inputValue()).toBe('<script>');
    expect(await byTestId(a.page, 'click-button').count()).toBe(0);
    expect(await byTestId(a.page, 'score').count()).toBe(0);
  });

  it('renames a player, keeps the score, and tells equal handles apart', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    const b = await player(srv.url);
    await join_(a.page, 'Sam');
    await join_(b.page, 'Sam');
    await clickTimes(a.page, 3);
    await clickTimes(b.page, 2);

    // Two visible rows named Sam: both get a #tag suffix.
    await vi.waitFor(async () => {
      const sams = (await boardRows(a.page)).filter((r) => r.handle.startsWith('Sam'));
      if (sams.length !== 2) throw new Error(`rows: ${JSON.stringify(sams)}`);
      for (const r of sams) if (!/^Sam #[a-z0-9]{8}$/.test(r.handle)) throw new Error(`no tag: ${r.handle}`);
    }, WAIT);

    // B renames: the form opens prefilled, the score stays.
    await byTestId(b.page, 'change-handle').click();
    expect(await byTestId(b.page, 'handle-input').inputValue()).toBe('Sam');
    await byTestId(b.page, 'handle-input').fill('Samantha');
    await byTestId(b.page, 'handle-submit').click();
    await vi.waitFor(async () => {
      const h = await byTestId(b.page, 'player-handle').textContent();
      if (h !== 'Samantha') throw new Error(`handle ${h}`);
    }, WAIT);
    expect(await numberIn(b.page, 'score')).toBe(2);

    // Now the handles differ, so no suffixes.
    await expectRow(a.page, (r) => r.handle === 'Samantha' && r.best === 2, 'renamed row');
    await expectRow(a.page, (r) => r.handle === 'Sam' && r.best === 3 && r.mine, 'Sam without a tag');
  });

  it('says when the score went back to 0 for inactivity and keeps the best', async () => {
    const srv = await startServer(['--idle-reset', '2s']);
    const a = await player(srv.url);
    await join_(a.page, 'Sleepy');
    await clickTimes(a.page, 3);
    await expectNumber(a.page, 'score', 3);

    // The server pushes the reset to the open page; nobody clicks meanwhile.
    const note = byTestId(a.page, 'idle-reset-notice');
    await note.waitFor({ state: 'visible', timeout: WAIT.timeout });
    expect(await note.textContent()).toMatch(/after 2 seconds without a click/);
    await expectNumber(a.page, 'score', 0);
    await expectNumber(a.page, 'best', 3);
    await expectRow(a.page, (r) => r.handle === 'Sleepy' && r.best === 3, 'Sleepy still on the board with best 3');

    await clickTimes(a.page, 1);
    await expectNumber(a.page, 'score', 1);
    await note.waitFor({ state: 'hidden', timeout: WAIT.timeout });
  });
});
