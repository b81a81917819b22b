// Browser tests of the page itself: the game's pulse, the player's feel (sound toggle,
// focus), a first visit without console errors, the handle's length as the server counts
// it, and an accessibility audit (axe, WCAG 2.1 A and AA) of every screen, on desktop and
// phone, light and dark. Against the real binary.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { Admin, browserSuite, byTestId, clickTimes, join_, numberIn, waitForLive, WAIT, type Player } from './harness';

const { startServer, player } = browserSuite();

const TOKEN = 'page-e2e-admin-token-0123456789';

const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;
const SCHEMES = ['light', 'dark'] as const;
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

interface Finding {
  screen: string;
  rule: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/**
 * Runs axe on the page as it is, in every viewport and colour scheme, and returns what it
 * found. Motion is reduced, so the audit sees the page at rest rather than mid-animation.
 */
async function audit(page: Page, screen: string): Promise<Finding[]> {
  const found: Finding[] = [];
  for (const [vp, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const colorScheme of SCHEMES) {
      await page.emulateMedia({ colorScheme, reducedMotion: 'reduce' });
      // Let the layout and the styles settle after the switch.
      await page.waitForTimeout(150);
      const res = await new AxeBuilder({ page }).withTags(WCAG).analyze();
      for (const v of res.violations) {
        found.push({
          screen: `${screen}, ${vp}, ${colorScheme}`,
          rule: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`),
        });
      }
    }
  }
  return found;
}

/** Every console message and failed or refused request of a page, for the first-visit test. */
function recordNoise(page: Page): string[] {
  const noise: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') noise.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => noise.push(`page error: ${String(e)}`));
  page.on('requestfailed', (r) => noise.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) noise.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return noise;
}

async function burst(page: Page, n: number): Promise<void> {
  await page.evaluate((count) => {
    const button = document.querySelector<HTMLButtonElement>('[data-testid="click-button"]');
    if (!button) throw new Error('no button');
    for (let i = 0; i < count; i++) button.click();
  }, n);
}

/** The clicks of the last minute that the page's sparkline shows. */
async function pulseTotal(page: Page): Promise<number> {
  return Number(await byTestId(page, 'click-rate').getAttribute('data-total'));
}

describe('The page', () => {
  it('logs no error, warning or failed request on a first visit, nor on joining', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    // The harness's player opened the page already; open a fresh one to record from the start.
    const page = await a.context.newPage();
    const noise = recordNoise(page);
    await page.goto(srv.url);
    await byTestId(page, 'handle-form').waitFor({ state: 'visible' });
    // The manifest and its icons are fetched too: wait until the network is quiet.
    await page.waitForLoadState('networkidle');
    expect(noise, 'first visit').toEqual([]);
    await join_(page, 'Quiet');
    await clickTimes(page, 2);
    await page.waitForLoadState('networkidle');
    expect(noise, 'first visit and joining').toEqual([]);
    const manifest = await page.evaluate(async () => {
      const link = document.querySelector<HTMLLinkElement>('link[rel="manifest"]');
      if (!link) return null;
      const res = await fetch(link.href);
      return { type: res.headers.get('content-type'), body: (await res.json()) as { icons: Array<{ src: string }> } };
    });
    expect(manifest?.type).toBe('application/manifest+json');
    for (const icon of manifest?.body.icons ?? []) {
      const res = await page.request.get(new URL(icon.src, srv.url).toString());
      expect(res.status(), icon.src).toBe(200);
    }
    await page.close();
  });

  it("draws the whole game's pulse, which moves while another player clicks", async () => {
    const srv = await startServer();
    const watcher = await player(srv.url);
    await join_(watcher.page, 'Watcher');
    const clicker = await player(srv.url);
    await join_(clicker.page, 'Clicker');

    const chart = byTestId(watcher.page, 'click-rate');
    await chart.waitFor({ state: 'visible' });
    const before = await chart.locator('path.line').getAttribute('d');
    expect(await pulseTotal(watcher.page)).toBe(0);

    await clickTimes(clicker.page, 12);
    await vi.waitFor(async () => {
      const total = await pulseTotal(watcher.page);
      if (total !== 12) throw new Error(`the watcher's pulse shows ${total} clicks, want 12`);
    }, WAIT);
    const after = await chart.locator('path.line').getAttribute('d');
    expect(after).not.toBe(before);
    expect(await chart.locator('svg').getAttribute('aria-label')).toMatch(/12 clicks in all/);
    // The clicker's own pace counts its clicks of this session; the watcher's stays 0.
    expect(await byTestId(clicker.page, 'my-pace').textContent()).toMatch(/12 this session/);
    expect(await byTestId(watcher.page, 'my-pace').textContent()).toMatch(/0\.0 clicks\/s.*0 this session/);
  });

  it('keeps the sound toggle over a reload, and sounds and vibrates only while it is on', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    // Count the blips and vibrations the page asks for, in every page of this player.
    await a.context.addInitScript(() => {
      const w = window as unknown as { blips: number; buzzes: number };
      w.blips = 0;
      w.buzzes = 0;
      const start = OscillatorNode.prototype.start;
      OscillatorNode.prototype.start = function (...args: Parameters<typeof start>) {
        w.blips++;
        return start.apply(this, args);
      };
      Object.defineProperty(navigator, 'vibrate', {
        value: () => {
          w.buzzes++;
          return true;
        },
      });
    });
    await a.page.reload();
    await join_(a.page, 'Listener');
    const toggle = byTestId(a.page, 'sound-toggle');
    const counts = () =>
      a.page.evaluate(() => {
        const w = window as unknown as { blips: number; buzzes: number };
        return { blips: w.blips, buzzes: w.buzzes };
      });

    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    await clickTimes(a.page, 2);
    expect(await counts()).toEqual({ blips: 0, buzzes: 0 });

    await toggle.click();
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    await clickTimes(a.page, 3);
    expect(await counts()).toEqual({ blips: 3, buzzes: 3 });

    await a.page.reload();
    await waitForLive(a.page);
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    await clickTimes(a.page, 1);
    expect(await counts()).toEqual({ blips: 1, buzzes: 1 });

    await toggle.click();
    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    await a.page.reload();
    await waitForLive(a.page);
    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    await clickTimes(a.page, 1);
    expect(await counts()).toEqual({ blips: 0, buzzes: 0 });
  });

  it('keeps the focus on the button while offline and back, and the keyboard plays on', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    await join_(a.page, 'Keyboard');
    const button = byTestId(a.page, 'click-button');
    await button.focus();
    await a.page.keyboard.press('Enter');
    await vi.waitFor(async () => expect(await numberIn(a.page, 'score')).toBe(1), WAIT);
    const focused = () => a.page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);

    await srv.stop();
    await byTestId(a.page, 'offline-notice').waitFor({ state: 'visible' });
    expect(await button.isDisabled()).toBe(true);
    expect(await focused()).toBe('click-button');
    // A press while offline does nothing, and throws nothing.
    await a.page.keyboard.press('Enter');

    await srv.start();
    await byTestId(a.page, 'offline-notice').waitFor({ state: 'detached', timeout: 25_000 });
    await waitForLive(a.page);
    expect(await focused()).toBe('click-button');
    await a.page.keyboard.press('Space');
    await vi.waitFor(async () => expect(await numberIn(a.page, 'score')).toBe(2), WAIT);
  });

  it('counts the handle in characters as the server does', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    const input = byTestId(a.page, 'handle-input');
    // 25 letters outside the BMP: 50 UTF-16 units, one too many characters.
    await input.fill('𝐀'.repeat(25));
    expect(await byTestId(a.page, 'handle-count').textContent()).toMatch(/25 of 24/);
    await byTestId(a.page, 'handle-submit').click();
    expect(await byTestId(a.page, 'handle-error').textContent()).toMatch(/at most 24 characters; this one has 25/);
    // 24 of them are 48 units, which a maxlength of 24 would have cut in half.
    await input.fill('𝐀'.repeat(24));
    expect(await byTestId(a.page, 'handle-count').textContent()).toMatch(/24 of 24/);
    await byTestId(a.page, 'handle-submit').click();
    await waitForLive(a.page);
    expect(await byTestId(a.page, 'player-handle').textContent()).toBe('𝐀'.repeat(24));
  });

  it('has an audit that finds a violation when there is one', async () => {
    const srv = await startServer();
    const a = await player(srv.url);
    await byTestId(a.page, 'handle-form').waitFor({ state: 'visible' });
    await a.page.evaluate(() => {
      const p = document.createElement('p');
      p.id = 'faint';
      p.textContent = 'faint text';
      p.style.color = '#c8c8c8';
      p.style.background = '#ffffff';
      document.querySelector('main')?.append(p);
    });
    const found = await audit(a.page, 'planted');
    expect(found.filter((f) => f.rule === 'color-contrast' && f.targets.some((t) => t.startsWith('#faint'))).length).toBe(4);
  });

  // The audits are split by screen, so that one failure names its screen and no test
  // runs for minutes; each allows for a loaded machine (40 axe runs in all).
  const AUDIT_TIMEOUT = 240_000;

  async function auditServer(extraArgs: string[] = []) {
    const srv = await startServer(extraArgs, undefined, { CTB_ADMIN_TOKEN: TOKEN });
    const join = async (handle: string): Promise<Player> => {
      const p = await player(srv.url);
      await join_(p.page, handle);
      return p;
    };
    return { srv, admin: new Admin(srv, TOKEN), join };
  }

  const expectClean = (findings: Finding[]) => expect(findings, JSON.stringify(findings, null, 2)).toEqual([]);

  it(
    'passes the WCAG 2.1 A and AA audit on the handle form and the game, desktop and phone, light and dark',
    async () => {
      const { srv, join } = await auditServer();
      const findings: Finding[] = [];
      const first = await player(srv.url);
      await byTestId(first.page, 'handle-form').waitFor({ state: 'visible' });
      findings.push(...(await audit(first.page, 'handle form')));
      await byTestId(first.page, 'handle-submit').click();
      await byTestId(first.page, 'handle-error').waitFor({ state: 'visible' });
      findings.push(...(await audit(first.page, 'handle form with an error')));

      await join_(first.page, 'Auditor');
      await clickTimes(first.page, 3);
      const other = await join('Neighbour');
      await clickTimes(other.page, 2);
      await vi.waitFor(async () => {
        if ((await pulseTotal(first.page)) === 0) throw new Error('no pulse yet');
      }, WAIT);
      findings.push(...(await audit(first.page, 'game')));
      await byTestId(first.page, 'change-handle').click();
      findings.push(...(await audit(first.page, 'game, renaming')));
      expectClean(findings);
    },
    AUDIT_TIMEOUT,
  );

  it(
    'passes the WCAG 2.1 A and AA audit throttled and offline, desktop and phone, light and dark',
    async () => {
      const { srv, join } = await auditServer(['--throttle-limit', '5']);
      const findings: Finding[] = [];
      const fast = await join('Fast');
      await burst(fast.page, 12);
      await byTestId(fast.page, 'throttle-notice').waitFor({ state: 'visible' });
      findings.push(...(await audit(fast.page, 'throttled')));

      await srv.stop();
      await byTestId(fast.page, 'offline-notice').waitFor({ state: 'visible' });
      findings.push(...(await audit(fast.page, 'offline')));
      expectClean(findings);
    },
    AUDIT_TIMEOUT,
  );

  it(
    'passes the WCAG 2.1 A and AA audit banned, removed and flooded, desktop and phone, light and dark',
    async () => {
      const { admin, join } = await auditServer();
      const findings: Finding[] = [];
      const banned = await join('Banned');
      await admin.ban(await admin.idOf('Banned'), 'testing the notice');
      await byTestId(banned.page, 'banned-notice').waitFor({ state: 'visible' });
      findings.push(...(await audit(banned.page, 'banned')));

      const removed = await join('Removed');
      await admin.remove(await admin.idOf('Removed'));
      await byTestId(removed.page, 'removed-notice').waitFor({ state: 'visible' });
      findings.push(...(await audit(removed.page, 'removed')));

      const flooder = await join('Flooder');
      await burst(flooder.page, 600);
      await byTestId(flooder.page, 'flood-notice').waitFor({ state: 'visible' });
      findings.push(...(await audit(flooder.page, 'flood')));
      expectClean(findings);
    },
    AUDIT_TIMEOUT,
  );
});
