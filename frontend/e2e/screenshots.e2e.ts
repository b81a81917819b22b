// The README's screenshots of the game, desktop and phone, taken from the real binary
// over a game with a few players in it. `make screenshots` runs this with
// CTB_SCREENSHOTS=docs to refresh the checked-in images; otherwise they go to a
// temporary folder, so `make test` checks that they can be taken without touching docs/.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  browserSuite,
  byTestId,
  clickTimes,
  freePort,
  join_,
  removeDir,
  repoRoot,
  ServerProcess,
  tempDataDir,
  WAIT,
} from './harness';

const { player, track } = browserSuite();

const HANDLES = [
  'ada', 'grace', 'linus', 'margaret', 'ken', 'barbara', 'dennis', 'frances', 'edsger', 'radia',
  'guido', 'katherine', 'niklaus', 'hedy', 'tim', 'annie', 'alan', 'sophie',
];

/** A scores.csv with a board's worth of players who clicked in the last minutes. */
function scoresFile(now: Date): string {
  const lines = ['id,handle,score,best,total,last_click,best_at'];
  HANDLES.forEach((h, i) => {
    const best = Math.round(4200 / (i + 1.3));
    const at = new Date(now.getTime() - (i + 1) * 20_000).toISOString();
    lines.push(`${randomUUID()},${h},${Math.round(best * 0.6)},${best},${best * 3},${at},${at}`);
  });
  return lines.join('\n') + '\n';
}

/** Width and height from a PNG's header. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString()).toBe('PNG');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('Screenshots', () => {
  it('shows the game on desktop and phone', async () => {
    const target = process.env.CTB_SCREENSHOTS;
    const outDir = target ? resolve(repoRoot, target) : mkdtempSync(join(tmpdir(), 'ctb-shots-'));
    const dataDir = tempDataDir();
    try {
      writeFileSync(join(dataDir, 'scores.csv'), scoresFile(new Date()));
      const srv = new ServerProcess(await freePort(), dataDir);
      track(srv);
      await srv.start();

      // Someone else keeps clicking, so the pulse has a shape.
      const other = await player(srv.url);
      await join_(other.page, 'bjarne');
      const me = await player(srv.url);
      await join_(me.page, 'you');
      for (let round = 0; round < 4; round++) {
        await clickTimes(other.page, 6 + round * 4);
        await clickTimes(me.page, 5);
        await me.page.waitForTimeout(1000);
      }
      await vi.waitFor(async () => {
        const total = Number(await byTestId(me.page, 'click-rate').getAttribute('data-total'));
        if (total < 40) throw new Error(`pulse shows ${total} clicks`);
      }, WAIT);

      const shots = [
        { name: 'screenshot-desktop.png', viewport: { width: 1100, height: 720 } },
        { name: 'screenshot-phone.png', viewport: { width: 390, height: 844 } },
      ];
      for (const s of shots) {
        await me.page.setViewportSize(s.viewport);
        await me.page.emulateMedia({ reducedMotion: 'reduce', colorScheme: 'light' });
        await me.page.mouse.move(0, 0);
        await me.page.evaluate(() => {
          (document.activeElement as HTMLElement | null)?.blur();
          window.scrollTo(0, 0);
        });
        await me.page.waitForTimeout(300);
        const file = join(outDir, s.name);
        await me.page.screenshot({ path: file });
        expect(pngSize(file)).toEqual(s.viewport);
      }
    } finally {
      removeDir(dataDir);
      if (!target) removeDir(outDir);
    }
  });
});
