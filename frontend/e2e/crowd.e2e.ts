// A first visit's bytes over the wire, measured in Chromium against the real binary
// with a full board (docs/benchmarks.md, "Serving a crowd").
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { browserSuite, freePort, join_, tempDataDir, removeDir, ServerProcess, WAIT } from './harness';

const { player, track } = browserSuite();

/** The whole first visit must stay under this (issue 11). */
const firstVisitBudget = 40 * 1024;

/**
 * A scores.csv of n players with the longest handles (24 characters) and six-digit
 * bests, so that the board the page receives is as large as a board gets.
 */
function writeFullBoard(dir: string, n: number): void {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const lines = ['id,handle,score,best,total,last_click,best_at'];
  for (let i = 0; i < n; i++) {
    const handle = `crowd player ${String(i).padStart(11, '0')}`; // 24 characters
    const best = 900_000 - i;
    lines.push(`${randomUUID()},${handle},${best},${best},${best},${now},${now}`);
  }
  writeFileSync(join(dir, 'scores.csv'), lines.join('\n') + '\n');
}

interface Transfer {
  what: string;
  bytes: number;
  encoding: string;
}

describe('a first visit', () => {
  it('sends the page compressed, and the whole visit stays under 40 KB', async () => {
    const dir = tempDataDir();
    let srv: ServerProcess | undefined;
    try {
      writeFullBoard(dir, 500);
      const server = new ServerProcess(await freePort(), dir);
      srv = server;
      track(server);
      await server.start();

      const p = await player('about:blank');
      const cdp = await p.context.newCDPSession(p.page);
      await cdp.send('Network.enable');
      // Nothing from a cache: a first visit.
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      const urls = new Map<string, { url: string; encoding: string }>();
      const http: Transfer[] = [];
      const ws: Transfer[] = [];
      cdp.on('Network.responseReceived', (e) => {
        const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
        urls.set(e.requestId, { url: e.response.url, encoding: h['content-encoding'] ?? '' });
      });
      cdp.on('Network.loadingFinished', (e) => {
        const r = urls.get(e.requestId);
        http.push({ what: r?.url ?? e.requestId, bytes: e.encodedDataLength, encoding: r?.encoding ?? '' });
      });
      cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
        // The upgrade's answer: status line and headers (101 has no body).
        const headers = Object.entries(e.response.headers)
          .map(([k, v]) => `${k}: ${String(v)}\r\n`)
          .join('');
        ws.push({ what: 'websocket handshake', bytes: `HTTP/1.1 101 Switching Protocols\r\n${headers}\r\n`.length, encoding: '' });
      });
      cdp.on('Network.webSocketFrameReceived', (e) => {
        // Payload plus the frame header a server sends (2 bytes, 4 from 126 bytes, 10 from 64 KiB).
        const n = Buffer.byteLength(e.response.payloadData);
        ws.push({ what: 'frame', bytes: n + (n < 126 ? 2 : n < 65536 ? 4 : 10), encoding: '' });
      });

      await p.page.goto(server.url);
      await join_(p.page, 'Newcomer');
      // The first frames: the player's state and the full board of 100 rows.
      await vi.waitFor(async () => {
        const rows = await p.page.locator('[data-testid="leaderboard-row"]').count();
        if (rows !== 100) throw new Error(`${rows} rows on the board`);
      }, WAIT);
      // Every response the page started has finished.
      await p.page.waitForLoadState('networkidle');

      const total = [...http, ...ws].reduce((n, t) => n + t.bytes, 0);
      const lines = [...http, ...ws].map((t) => `  ${String(t.bytes).padStart(6)}  ${t.encoding.padEnd(4)}  ${t.what}`);
      console.log(`first visit with a full board: ${total} bytes received\n${lines.join('\n')}`);

      const scripts = http.filter((t) => /\/assets\/.*\.(js|css)$/.test(t.what));
      expect(scripts.length, 'the page loads its script and style').toBeGreaterThanOrEqual(2);
      for (const s of scripts) expect(s.encoding, `${s.what} goes out compressed`).toBe('br');
      const page = http.find((t) => t.what === server.url);
      expect(page?.encoding, 'index.html goes out compressed').toBe('br');
      expect(ws.filter((t) => t.what === 'frame').length, 'the first frames arrived').toBeGreaterThanOrEqual(2);
      expect(total, `the first visit's ${total} bytes`).toBeLessThan(firstVisitBudget);
    } finally {
      await srv?.stop();
      removeDir(dir);
    }
  });
});
