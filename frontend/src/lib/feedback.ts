// A click's sound and haptic tick, behind one toggle remembered per browser. The sound is
// generated with WebAudio (a short sine blip), so there is no audio file to download.

/** The localStorage key of the toggle. */
export const SOUND_KEY = 'ctb.sound';

/** The subset of Storage used, so tests can pass a Map-backed one. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * The saved choice; off unless the player turned it on, since a page that beeps
 * unasked is no kindness. A storage that throws (privacy modes) reads as off.
 */
export function loadSoundOn(storage: StorageLike | null): boolean {
  try {
    return storage?.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}

/** Saves the choice; a storage that refuses only loses it at the next visit. */
export function saveSoundOn(storage: StorageLike | null, on: boolean): void {
  try {
    storage?.setItem(SOUND_KEY, on ? 'on' : 'off');
  } catch {
    // Nothing to do: the toggle still works for this visit.
  }
}

/** What a blip needs of WebAudio, so tests can count the sounds made. */
export interface AudioLike {
  readonly currentTime: number;
  readonly state: string;
  readonly destination: unknown;
  resume(): Promise<void>;
  createOscillator(): {
    type: string;
    frequency: { setValueAtTime(v: number, t: number): void; exponentialRampToValueAtTime(v: number, t: number): void };
    connect(n: unknown): unknown;
    start(t: number): void;
    stop(t: number): void;
  };
  createGain(): {
    gain: { setValueAtTime(v: number, t: number): void; exponentialRampToValueAtTime(v: number, t: number): void };
    connect(n: unknown): unknown;
  };
}

export interface FeedbackDeps {
  /** Creates the audio context on the first sound (browsers allow it after a gesture). */
  audio?: () => AudioLike | null;
  vibrate?: (ms: number) => boolean;
}

/** Plays the click feedback while on. */
export class Feedback {
  on: boolean;
  private ctx: AudioLike | null = null;
  private readonly deps: FeedbackDeps;

  constructor(on: boolean, deps: FeedbackDeps) {
    this.on = on;
    this.deps = deps;
  }

  /** One click: a 40 ms blip and a 10 ms vibration, where the device has them. */
  click(): void {
    if (!this.on) return;
    this.deps.vibrate?.(10);
    const ctx = this.context();
    if (!ctx) return;
    if (ctx.state === 'suspended') void ctx.resume();
    const t = ctx.currentTime;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.exponentialRampToValueAtTime(440, t + 0.04);
    gain.gain.setValueAtTime(0.15, t);
    gain.gain.exponentialRampToValueAtTime(0.001, t + 0.05);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(t);
    osc.stop(t + 0.05);
  }

  private context(): AudioLike | null {
    if (!this.ctx) {
      try {
        this.ctx = this.deps.audio?.() ?? null;
      } catch {
        this.ctx = null;
      }
    }
    return this.ctx;
  }
}

/** The browser's own audio and vibration, where they exist. */
export function browserFeedbackDeps(): FeedbackDeps {
  const w = globalThis as { AudioContext?: new () => AudioLike };
  const nav = globalThis.navigator as Navigator | undefined;
  return {
    audio: () => (w.AudioContext ? new w.AudioContext() : null),
    vibrate: nav && typeof nav.vibrate === 'function' ? (ms) => nav.vibrate(ms) : undefined,
  };
}
