// The page's final states: the server closed the game for a reason that reconnecting
// cannot fix (docs/protocol.md, "Closing"), and what the page says about each.

/** Why the page stopped for good. */
export type Ending =
  /** A moderator banned the player. `truncated`: the reason came in a close frame and may
   * be the server's cut of a longer one (a close reason holds at most 123 bytes). */
  | { kind: 'banned'; reason: string; truncated?: boolean }
  /** A moderator removed the player; a fresh session load brings a new player. */
  | { kind: 'removed' }
  /** The socket sent more frames than a person can; the server closed it. */
  | { kind: 'flood' };

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
/** The server is overloaded: try again, but not soon. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_BANNED = 4003;
export const CLOSE_REMOVED = 4004;
export const CLOSE_FLOOD = 4008;

/** What the connection does after a close: stop for good, retry later, or retry as usual. */
export type CloseVerdict = { kind: 'end'; ending: Ending } | { kind: 'later' } | { kind: 'retry' };

/** The longest close reason a close frame carries: 125 bytes of payload less the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

const BAN_PREFIX = 'banned: ';

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** The ban's reason in a 4003 close reason ("banned: <reason>"). */
export function banReasonFromClose(closeReason: string): string {
  return closeReason.startsWith(BAN_PREFIX) ? closeReason.slice(BAN_PREFIX.length) : closeReason;
}

export function closeVerdict(code: number | undefined, reason: string | undefined): CloseVerdict {
  switch (code) {
    case CLOSE_BANNED: {
      const r = reason ?? '';
      // The server cuts a long reason on a character boundary, which can leave up to
      // three bytes of the frame unused: a shorter reason is certainly whole.
      const truncated = utf8Length(r) > MAX_CLOSE_REASON_BYTES - 4;
      return { kind: 'end', ending: { kind: 'banned', reason: banReasonFromClose(r), ...(truncated ? { truncated } : {}) } };
    }
    case CLOSE_REMOVED:
      return { kind: 'end', ending: { kind: 'removed' } };
    case CLOSE_FLOOD:
      return { kind: 'end', ending: { kind: 'flood' } };
    case CLOSE_TRY_AGAIN_LATER:
      return { kind: 'later' };
    default:
      // 1000 and 1001 (a restart), 1006 (no close frame: the network, or a refused
      // upgrade) and anything else: reconnect with the usual backoff.
      return { kind: 'retry' };
  }
}

/** The server's sentence for a ban, as in its HTTP error bodies. */
const BANNED_SENTENCE = 'This player was banned by the moderators';

/** The ban's reason in an HTTP error body with code "banned": its `reason`, or else
 * what its `error` says after the server's sentence. */
export function banReasonFromBody(error: string, reason: string | undefined): string {
  if (reason !== undefined) return reason;
  return error.startsWith(BANNED_SENTENCE) ? error.slice(BANNED_SENTENCE.length).replace(/^: /, '') : error;
}

export function bannedText(reason: string): string {
  return reason.trim() === '' ? `${BANNED_SENTENCE}.` : `${BANNED_SENTENCE}: ${reason}`;
}

export const REMOVED_TEXT = 'A moderator removed this player.';
export const FLOOD_TEXT =
  'This page sent too many clicks at once, so the server closed its connection. Reload the page to play again.';

/** What the page says for an ending. */
export function endingText(e: Ending): string {
  switch (e.kind) {
    case 'banned':
      return bannedText(e.reason);
    case 'removed':
      return REMOVED_TEXT;
    case 'flood':
      return FLOOD_TEXT;
  }
}
