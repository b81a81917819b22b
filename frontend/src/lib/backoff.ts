// Exponential reconnect backoff: 500 ms doubling up to 10 s, with jitter; 10 to 15 s when
// the server asked to come back later.

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** Returns a number in [0, 1); injectable for tests. */
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 500;
    this.maxMs = opts.maxMs ?? 10_000;
    this.random = opts.random ?? Math.random;
  }

  /** The nominal (un-jittered) delay of the next attempt. */
  nominal(): number {
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
  }

  /** Delay before the next attempt: between half and all of the nominal delay. */
  next(): number {
    const n = this.nominal();
    this.attempt++;
    return Math.round(n / 2 + (n / 2) * this.random());
  }

  /**
   * Delay after the server said "try again later" (close code 1013): never less than the
   * longest delay, plus up to half of it of jitter, so that the clients an overloaded
   * server turned away do not all come back at once. The attempts after it wait the
   * longest delay too, until a reset: the server is busy, not gone.
   */
  later(): number {
    const atCap = Math.max(0, Math.ceil(Math.log2(this.maxMs / this.baseMs)));
    this.attempt = Math.max(this.attempt + 1, atCap);
    return Math.round(this.maxMs + (this.maxMs / 2) * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
