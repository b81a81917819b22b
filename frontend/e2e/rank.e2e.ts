// Browser test of "your rank, anywhere" against the real binary: a player far below
// the top 100 sees their rank among all players and the players around them, live.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WAIT, browserSuite, byTestId, clickTimes, freePort, join_, removeDir, ServerProcess, tempDataDir } from './harness';

const { player, track } = browserSuite();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

/** The 150 players the test creates: seed 000 has best 10, seed 001 best 12, ... seed
 * 149 best 308, so their ranks are 150 down to 1. */
const SEEDS = 150;
const bestOf = (i: number) => 10 + 2 * i;

/** Starts the binary on a data folder whose scores file holds the seeded players. */
async function seededServer(): Promise<ServerProcess> {
  const dir = tempDataDir();
  dirs.push(dir);
  const lines = ['id,handle,score,best,total,last_click,best_at'];
  for (let i = 0; i < SEEDS; i++) {
    const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
    lines.push(`${randomUUID()},seed ${String(i).padStart(3, '0')},0,${bestOf(i)},${bestOf(i)},${at},${at}`);
  }
  writeFileSync(join(dir, 'scores.csv'), lines.join('\n') + '\n', { mode: 0o600 });
  const srv = new ServerProcess(await freePort(), dir);
  track(srv);
  await srv.start();
  return srv;
}

interface Line {
  rank: string;
  text: string;
  mine: boolean;
}

async function neighbours(page: Page): Promise<Line[]> {
  return page.$$eval('[data-testid="rank-neighbours"] [data-testid="rank-row"]', (els) =>
    els.map((el) => ({
      rank: el.querySelector('.pos')?.textContent?.trim() ?? '',
      text: el.textContent?.replace(/\s+/g, ' ').trim() ?? '',
      mine: el.getAttribute('aria-current') === 'true',
    })),
  );
}

/** Waits until the rank reads want and the rows around the player are wantRows. */
async function expectRank(page: Page, want: string, wantRows: [string, string, boolean][]): Promise<void> {
  await vi.waitFor(async () => {
    const got = (await byTestId(page, 'my-rank').textContent())?.trim();
    if (got !== want) throw new Error(`my-rank is ${JSON.stringify(got)}, want ${want}`);
    const rows = await neighbours(page);
    const flat = rows.map((r) => [r.rank, r.text, r.mine]);
    const wantFlat = wantRows.map(([rank, text, mine]) => [rank, text, mine]);
    if (JSON.stringify(flat) !== JSON.stringify(wantFlat)) {
      throw new Error(`rows ${JSON.stringify(flat)}, want ${JSON.stringify(wantFlat)}`);
    }
  }, WAIT);
}

describe('your rank, anywhere', () => {
  it('a player outside the top 100 sees their rank and neighbours, and passes someone live', async () => {
    const srv = await seededServer();
    const { page } = await player(srv.url);
    await join_(page, 'Climber');
    await expectRank(page, 'Not ranked yet: click to join 150 players', []);

    await clickTimes(page, 5);
    // Best 5: below all 150 seeds.
    await expectRank(page, '#151 of 151', [
      ['#149', '#149 seed 001 12', false],
      ['#150', '#150 seed 000 10', false],
      ['#151', '#151 Climber 5', true],
    ]);
    // Not on the top-100 board, which the seeds fill.
    expect(await page.locator('[data-testid="leaderboard-row"][aria-current="true"]').count()).toBe(0);

    // Six more: best 11 passes seed 000 (10).
    await clickTimes(page, 6);
    await expectRank(page, '#150 of 151', [
      ['#148', '#148 seed 002 14', false],
      ['#149', '#149 seed 001 12', false],
      ['#150', '#150 Climber 11', true],
      ['#151', '#151 seed 000 10', false],
    ]);

    // One more ties seed 001 at 12: a shared rank, and seed 001 (there first) stays above.
    await clickTimes(page, 1);
    await expectRank(page, '#149 of 151', [
      ['#148', '#148 seed 002 14', false],
      ['#149', '#149 seed 001 12', false],
      ['#149', '#149 Climber 12', true],
      ['#151', '#151 seed 000 10', false],
    ]);
  });
});
