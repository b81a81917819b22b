import { describe, expect, it } from 'vitest';
import { banReasonFromBody, banReasonFromClose, bannedText, closeVerdict, endingText, FLOOD_TEXT } from './ending';

describe('closeVerdict', () => {
  it('ends for good on a ban, a removal and a flood', () => {
    expect(closeVerdict(4003, 'banned: autoclicker')).toEqual({
      kind: 'end',
      ending: { kind: 'banned', reason: 'autoclicker' },
    });
    expect(closeVerdict(4004, 'removed by a moderator')).toEqual({ kind: 'end', ending: { kind: 'removed' } });
    expect(closeVerdict(4008, 'too many frames')).toEqual({ kind: 'end', ending: { kind: 'flood' } });
  });

  it('retries later on 1013 and as usual on anything else', () => {
    expect(closeVerdict(1013, '')).toEqual({ kind: 'later' });
    for (const code of [1000, 1001, 1006, 1008, 1009, 1011, 4000, 4999, undefined]) {
      expect(closeVerdict(code, undefined)).toEqual({ kind: 'retry' });
    }
  });

  it('flags a ban reason that may have been cut to fit the close frame', () => {
    // 123 bytes at most; a cut on a character boundary leaves at least 120.
    const fits = 'banned: ' + 'x'.repeat(111); // 119 bytes: whole
    const full = 'banned: ' + 'é'.repeat(56); // 120 bytes: maybe cut
    expect(closeVerdict(4003, fits)).toEqual({ kind: 'end', ending: { kind: 'banned', reason: 'x'.repeat(111) } });
    expect(closeVerdict(4003, full)).toEqual({
      kind: 'end',
      ending: { kind: 'banned', reason: 'é'.repeat(56), truncated: true },
    });
  });
});

describe('ban reasons', () => {
  it('come from the close reason after "banned: "', () => {
    expect(banReasonFromClose('banned: spam: and more')).toBe('spam: and more');
    expect(banReasonFromClose('autoclicker')).toBe('autoclicker');
  });

  it("come from the body's reason, or its error after the server's sentence", () => {
    expect(banReasonFromBody('whatever', 'bot')).toBe('bot');
    expect(banReasonFromBody('This player was banned by the moderators: bot', undefined)).toBe('bot');
    expect(banReasonFromBody('banned', undefined)).toBe('banned');
  });
});

describe('endingText', () => {
  it('says what happened', () => {
    expect(endingText({ kind: 'banned', reason: 'autoclicker' })).toBe(
      'This player was banned by the moderators: autoclicker',
    );
    expect(bannedText('  ')).toBe('This player was banned by the moderators.');
    expect(endingText({ kind: 'removed' })).toBe('A moderator removed this player.');
    expect(endingText({ kind: 'flood' })).toBe(FLOOD_TEXT);
    expect(FLOOD_TEXT).toMatch(/too many clicks at once/);
    expect(FLOOD_TEXT).toMatch(/reload the page to play again/i);
  });
});
