// Browser tests of fair play: what the page does when a moderator bans, removes or renames
// a player, and when it floods the server. Against the real binary with the admin API on.
import { describe, expect, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import {
  Admin,
  browserSuite,
  WAIT,
  byTestId,
  clickTimes,
  expectNumber,
  join_,
  numberIn,
  waitForLive,
  type Player,
} from './harness';

const { startServer, player } = browserSuite();

const TOKEN = 'fair-play-e2e-token-0123456789';

/** How long the page must stay quiet to show that it does not reconnect: longer than the
 * first few backoff delays (0.5, 1 and 2 s) together. */
const QUIET_MS = 5_000;

async function setup(): Promise<{ admin: Admin; url: string }> {
  const srv = await startServer([], undefined, { CTB_ADMIN_TOKEN: TOKEN });
  return { admin: new Admin(srv, TOKEN), url: srv.url };
}

/** The server's count of frames refused because their socket flooded. */
async function floodsRefused(url: string): Promise<number> {
  const text = await (await fetch(new URL('metrics', url))).text();
  const m = /^ctb_ws_frames_refused_total\{reason="flood"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Counts the WebSockets the page opens from now on, over reloads too. */
function countSockets(page: Page): { readonly opened: number } {
  const count = { opened: 0 };
  page.on('websocket', () => {
    count.opened++;
  });
  return count;
}

async function textOf(page: Page, id: string): Promise<string> {
  return ((await byTestId(page, id).textContent()) ?? '').trim();
}

async function expectHandle(page: Page, want: string): Promise<void> {
  await vi.waitFor(async () => {
    const got = await textOf(page, 'player-handle');
    if (got !== want) throw new Error(`player-handle is ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }, WAIT);
}

/** Neither the game nor a form, and not the offline notice: the page stopped for good. */
async function expectStopped(p: Player): Promise<void> {
  for (const id of ['click-button', 'handle-form', 'offline-notice', 'score']) {
    expect(await byTestId(p.page, id).count(), id).toBe(0);
  }
}

describe('Fair play in a browser', () => {
  it('a ban closes the game with the reason, holds over a reload, and nothing reconnects', async () => {
    const { admin, url } = await setup();
    const a = await player(url);
    const sockets = countSockets(a.page);
    await join_(a.page, 'Cheater');
    await clickTimes(a.page, 4);
    expect(sockets.opened).toBe(1);

    await admin.ban(await admin.idOf('Cheater'), 'autoclicker');
    const want = 'This player was banned by the moderators: autoclicker';
    const notice = byTestId(a.page, 'banned-notice');
    await notice.waitFor({ state: 'visible' });
    expect(await textOf(a.page, 'banned-notice')).toBe(want);
    expect(await notice.getAttribute('role')).toBe('alert');
    await expectStopped(a);

    await a.page.waitForTimeout(QUIET_MS);
    expect(sockets.opened, 'sockets opened after the ban').toBe(1);
    await expectStopped(a);

    // The ban holds: a reload is refused at api/session and shows the notice again.
    await a.page.reload();
    await notice.waitFor({ state: 'visible' });
    expect(await textOf(a.page, 'banned-notice')).toBe(want);
    await expectStopped(a);
    await a.page.waitForTimeout(1_000);
    expect(sockets.opened, 'sockets opened after the reload').toBe(1);
  });

  it('an unban brings the player back with the old score', async () => {
    const { admin, url } = await setup();
    const a = await player(url);
    await join_(a.page, 'Forgiven');
    await clickTimes(a.page, 3);
    const id = await admin.idOf('Forgiven');

    await admin.ban(id, 'too quick');
    await byTestId(a.page, 'banned-notice').waitFor({ state: 'visible' });
    await admin.unban(id);

    await a.page.reload();
    await waitForLive(a.page);
    expect(await byTestId(a.page, 'banned-notice').count()).toBe(0);
    await expectHandle(a.page, 'Forgiven');
    await expectNumber(a.page, 'score', 3);
    await expectNumber(a.page, 'best', 3);
    await clickTimes(a.page, 1);
    await expectNumber(a.page, 'best', 4);
  });

  // The server closes such a socket with 4008, but it closes the connection with the rest
  // of the burst unread, so Chromium sees the reset (1006), not the close frame: the page
  // recognises the flood from its own send rate (src/lib/sendrate.ts).
  it('a flood of frames gets the socket closed: the page says so and does not reconnect', async () => {
    const { url } = await setup();
    const a = await player(url);
    const sockets = countSockets(a.page);
    await join_(a.page, 'Flooder');

    // One synchronous burst: every click is a frame, far over the 200 a second allowed.
    await a.page.evaluate(() => {
      const button = document.querySelector<HTMLButtonElement>('[data-testid="click-button"]');
      if (!button) throw new Error('no button');
      for (let i = 0; i < 600; i++) button.click();
    });

    const notice = byTestId(a.page, 'flood-notice');
    await notice.waitFor({ state: 'visible' });
    expect(await floodsRefused(url), 'frames the server refused as a flood').toBeGreaterThan(0);
    const text = await textOf(a.page, 'flood-notice');
    expect(text).toMatch(/too many clicks at once/);
    expect(text).toMatch(/reload the page to play again/i);
    await expectStopped(a);

    await a.page.waitForTimeout(QUIET_MS);
    expect(sockets.opened, 'sockets opened after the flood').toBe(1);
    await expectStopped(a);

    // It is not a ban: a reload plays again.
    await a.page.reload();
    await waitForLive(a.page);
    await expectHandle(a.page, 'Flooder');
    expect(sockets.opened).toBe(2);
  });

  it('a removal shows the notice without reconnecting, and play-again starts afresh', async () => {
    const { admin, url } = await setup();
    const a = await player(url);
    const sockets = countSockets(a.page);
    await join_(a.page, 'Gone');
    await clickTimes(a.page, 5);

    await admin.remove(await admin.idOf('Gone'));
    await byTestId(a.page, 'removed-notice').waitFor({ state: 'visible' });
    expect(await textOf(a.page, 'removed-notice')).toBe('A moderator removed this player.');
    await expectStopped(a);
    // The keyboard lands on the one thing left to do.
    await vi.waitFor(async () => {
      const id = await a.page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
      if (id !== 'play-again') throw new Error(`focused: ${id}`);
    }, WAIT);

    await a.page.waitForTimeout(QUIET_MS);
    expect(sockets.opened, 'sockets opened after the removal').toBe(1);

    await byTestId(a.page, 'play-again').click();
    await waitForLive(a.page);
    expect(await byTestId(a.page, 'removed-notice').count()).toBe(0);
    expect(await numberIn(a.page, 'score')).toBe(0);
    expect(await numberIn(a.page, 'best')).toBe(0);
    expect(sockets.opened).toBe(2);
    await clickTimes(a.page, 2);
    await expectNumber(a.page, 'best', 2);
  });

  it("a handle a moderator set cannot be changed: the form shows the server's message", async () => {
    const { admin, url } = await setup();
    const a = await player(url);
    await join_(a.page, 'Rude');
    const id = await admin.idOf('Rude');

    await admin.rename(id, 'Player 1');
    await expectHandle(a.page, 'Player 1');

    await byTestId(a.page, 'change-handle').click();
    await byTestId(a.page, 'handle-input').fill('Rude again');
    await byTestId(a.page, 'handle-submit').click();
    const error = byTestId(a.page, 'handle-error');
    await error.waitFor({ state: 'visible' });
    expect(await textOf(a.page, 'handle-error')).toBe('your handle was set by a moderator and cannot be changed');

    // Escape closes the form; the handle is the moderator's, here and on the server.
    await byTestId(a.page, 'handle-input').press('Escape');
    await expectHandle(a.page, 'Player 1');
    expect(((await admin.player(id)) as { handle: string }).handle).toBe('Player 1');
    await a.page.reload();
    await waitForLive(a.page);
    await expectHandle(a.page, 'Player 1');
  });
});
