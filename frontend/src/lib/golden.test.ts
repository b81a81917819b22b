// The golden frames of internal/protocol (testdata/golden), decoded by the page: what the
// Go types encode, the page accepts whole, and refuses when a required field is missing.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as gen from './protocol.gen';
import { parseFrame, parseSession } from './protocol';

const dir = fileURLToPath(new URL('../../../internal/protocol/testdata/golden/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const text = (f: string) => readFileSync(dir + f, 'utf8').trimEnd();

/** Fields the protocol lets a sender leave out (ts:"optional" in internal/protocol). */
const OPTIONAL = new Set(['code', 'reason', 'rate']);

const bodyDecoders: Record<string, (v: unknown) => unknown> = {
  SessionResponse: gen.decodeSessionResponse,
  Leaderboard: gen.decodeLeaderboard,
  StatsResponse: gen.decodeStatsResponse,
  ErrorBody: gen.decodeErrorBody,
  ClientFrame: gen.decodeClientFrame,
};

function decoderOf(file: string): (v: unknown) => unknown {
  const [kind, name] = file.split('.');
  if (kind !== 'body') return (v) => parseFrame(JSON.stringify(v));
  const d = bodyDecoders[name];
  if (!d) throw new Error(`no decoder for ${file}`);
  return d;
}

describe('golden frames', () => {
  it('are there, one per server frame type at least', () => {
    const kinds = new Set(files.map((f) => f.split('.')[0]));
    for (const t of [gen.TYPE_STATE, gen.TYPE_BOARD, gen.TYPE_BOARD_DELTA, gen.TYPE_STATS, gen.TYPE_RANK, gen.TYPE_ERROR]) {
      expect(kinds.has(t), `golden file for ${t}`).toBe(true);
    }
  });

  it.each(files)('%s decodes whole', (file) => {
    const raw = text(file);
    const want: unknown = JSON.parse(raw);
    expect(decoderOf(file)(want)).toEqual(want);
    if (!file.startsWith('body.')) expect(parseFrame(raw)).toEqual(want);
  });

  it.each(files)('%s is refused without any one required field', (file) => {
    const full = JSON.parse(text(file)) as Record<string, unknown>;
    const decode = decoderOf(file);
    for (const key of Object.keys(full)) {
      if (OPTIONAL.has(key)) continue;
      const { [key]: _dropped, ...rest } = full;
      expect(decode(rest), `${file} without ${key}`).toBeNull();
    }
  });

  it('the session answer keeps its rules through the page parser', () => {
    const body = JSON.parse(text('body.SessionResponse.json'));
    expect(parseSession(body)).toEqual(body);
  });
});
