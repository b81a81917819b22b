#!/usr/bin/env node
// compress-page.mjs DIR: writes FILE.br and FILE.gz beside every file of the built page
// in DIR that compression makes noticeably smaller, whatever its type, so the server can
// send a browser the smallest copy it accepts without compressing anything at run time.
// Files already compressed (images, fonts) gain nothing and get no copies. Run by
// `make web` after `npm run build`; the output is the same for the same input.
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

// A copy must save at least this share of the original and this many bytes to be worth
// a second request path, a second ETag and the bytes in the binary.
const minSavedShare = 0.1;
const minSavedBytes = 64;

const dir = process.argv[2];
if (!dir) {
  console.error('usage: compress-page.mjs DIR');
  process.exit(2);
}

function* files(d) {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

const encoders = {
  br: (b) =>
    brotliCompressSync(b, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: b.length,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      },
    }),
  gz: (b) => gzipSync(b, { level: 9 }),
};
const suffixes = Object.keys(encoders).map((s) => `.${s}`);

let originals = 0;
let before = 0;
let after = 0;
for (const path of [...files(dir)]) {
  // Copies from an earlier run are rewritten from their original, or removed.
  if (suffixes.some((s) => path.endsWith(s))) continue;
  const body = readFileSync(path);
  originals++;
  before += body.length;
  let best = body.length;
  for (const [suffix, encode] of Object.entries(encoders)) {
    const out = encode(body);
    const target = `${path}.${suffix}`;
    if (body.length - out.length >= Math.max(minSavedBytes, body.length * minSavedShare)) {
      writeFileSync(target, out);
      best = Math.min(best, out.length);
    } else {
      rmSync(target, { force: true });
    }
  }
  after += best;
}
// A copy whose original is gone would be served for nothing.
for (const path of [...files(dir)]) {
  const s = suffixes.find((x) => path.endsWith(x));
  if (s && !statSync(path.slice(0, -s.length), { throwIfNoEntry: false })) rmSync(path);
}
console.log(
  `compress-page: ${originals} files in ${relative(process.cwd(), dir) || '.'}, ${before} bytes, ${after} bytes as the smallest copies`,
);
