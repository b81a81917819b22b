// Browser test of a sub-path deployment: the real binary with --base-path /game, as behind
// a reverse proxy that passes /game/ through unchanged (docs/deploy.md).
import { describe, expect, it } from 'vitest';
import {
  browserSuite,
  byTestId,
  clickTimes,
  expectNumber,
  expectRow,
  join_,
  numberIn,
  waitForLive,
} from './harness';

const { startServer, player } = browserSuite();

describe('Click the Button under --base-path /game', () => {
  it('serves page, API and WebSocket under /game/ and the probes at the root', async () => {
    const srv = await startServer(['--base-path', '/game']);
    const game = new URL('game/', srv.url).href;

    // Probes stay at the root, where a load balancer or systemd looks for them.
    const health = await fetch(new URL('healthz', srv.url));
    expect(health.status).toBe(200);

    // /game without the slash redirects to /game/ (relative asset and API URLs need it).
    const bare = await fetch(new URL('game', srv.url), { redirect: 'manual' });
    expect([301, 302, 307, 308], `GET /game answered ${bare.status}`).toContain(bare.status);
    expect(new URL(bare.headers.get('location') ?? '', srv.url).href).toBe(game);

    // The page and the API are under /game/, not at the root.
    const html = await fetch(game);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type') ?? '').toMatch(/text\/html/);
    expect(await html.text()).toContain('<div id="app">');
    expect((await fetch(new URL('api/leaderboard', game))).status).toBe(200);
    expect((await fetch(new URL('api/leaderboard', srv.url))).status).toBe(404);

    // A player joins and plays through /game/api and the socket at /game/ws.
    const a = await player(game);
    const sockets: string[] = [];
    a.page.on('websocket', (ws) => sockets.push(ws.url()));
    await join_(a.page, 'Pathfinder');
    expect(sockets).toContain(`ws://127.0.0.1:${srv.port}/game/ws`);

    await clickTimes(a.page, 4);
    await expectNumber(a.page, 'best', 4);
    const mine = await expectRow(a.page, (r) => r.handle === 'Pathfinder' && r.best === 4, 'Pathfinder with best 4');
    expect(mine.mine).toBe(true);
    expect(mine.rank).toBe('1');

    // A second player sees the row arrive over the socket.
    const b = await player(game);
    await join_(b.page, 'Watcher');
    await expectRow(b.page, (r) => r.handle === 'Pathfinder' && r.best === 4 && !r.mine, 'Pathfinder seen by Watcher');
    await expectNumber(b.page, 'online-count', 2);

    // The session cookie works under the sub-path: a reload keeps the player.
    await a.page.reload();
    await waitForLive(a.page);
    expect(await byTestId(a.page, 'handle-form').count()).toBe(0);
    expect(await numberIn(a.page, 'best')).toBe(4);

    // The API under the sub-path agrees.
    const board = (await (await fetch(new URL('api/leaderboard', game))).json()) as {
      top: { handle: string; best: number }[];
    };
    expect(board.top.find((r) => r.handle === 'Pathfinder')?.best).toBe(4);
  });
});
