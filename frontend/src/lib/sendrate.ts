// How fast the page sends on one socket. The server closes a socket that sends more than
// 200 frames in a second with 4008, but the close frame can be lost: the server closes the
// connection at once, with the rest of the burst unread, and the browser then reports 1006.
// A socket that dies that way right after such a burst was closed for flooding.

/** Frames per second the server allows one socket (docs/protocol.md). */
export const SERVER_FRAME_LIMIT = 200;

export class SendRate {
  /** Send times of the last limit + 1 frames, as a ring. */
  private readonly times: number[];
  private count = 0;
  /** When the page last had sent more than `limit` frames within one window; null if never. */
  private burstAt: number | null = null;

  constructor(
    readonly limit = SERVER_FRAME_LIMIT,
    readonly windowMs = 1000,
  ) {
    this.times = new Array<number>(limit + 1).fill(0);
  }

  /** Counts one frame sent at now (ms). */
  sent(now: number): void {
    const size = this.times.length;
    this.times[this.count % size] = now;
    this.count++;
    // The oldest of the last `size` frames is the one the next send overwrites.
    if (this.count >= size && now - this.times[this.count % size]! < this.windowMs) this.burstAt = now;
  }

  /** True when more than `limit` frames went out within one window less than withinMs ago. */
  overLimit(now: number, withinMs = 10_000): boolean {
    return this.burstAt !== null && now - this.burstAt < withinMs;
  }
}
