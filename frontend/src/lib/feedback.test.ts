import { describe, expect, it } from 'vitest';
import { Feedback, loadSoundOn, saveSoundOn, SOUND_KEY, type AudioLike, type StorageLike } from './feedback';

function mapStorage(init: Record<string, string> = {}): StorageLike & { data: Map<string, string> } {
  const data = new Map(Object.entries(init));
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

const throwing: StorageLike = {
  getItem: () => {
    throw new Error('denied');
  },
  setItem: () => {
    throw new Error('denied');
  },
};

describe('the sound toggle', () => {
  it.each<[string, StorageLike | null, boolean]>([
    ['off on a first visit', mapStorage(), false],
    ['on once turned on', mapStorage({ [SOUND_KEY]: 'on' }), true],
    ['off once turned off', mapStorage({ [SOUND_KEY]: 'off' }), false],
    ['off for a value it does not know', mapStorage({ [SOUND_KEY]: 'loud' }), false],
    ['off without storage', null, false],
    ['off when storage throws', throwing, false],
  ])('is %s', (_name, storage, want) => {
    expect(loadSoundOn(storage)).toBe(want);
  });

  it('remembers the choice', () => {
    const s = mapStorage();
    saveSoundOn(s, true);
    expect(loadSoundOn(s)).toBe(true);
    saveSoundOn(s, false);
    expect(s.data.get(SOUND_KEY)).toBe('off');
    expect(() => saveSoundOn(throwing, true)).not.toThrow();
  });
});

function fakeAudio() {
  const made = { contexts: 0, blips: 0, resumed: 0 };
  const param = { setValueAtTime() {}, exponentialRampToValueAtTime() {} };
  const audio = (): AudioLike => {
    made.contexts++;
    return {
      currentTime: 1,
      state: 'suspended',
      destination: {},
      resume: async () => void made.resumed++,
      createOscillator: () => ({
        type: '',
        frequency: param,
        connect: () => undefined,
        start: () => void made.blips++,
        stop: () => undefined,
      }),
      createGain: () => ({ gain: param, connect: () => undefined }),
    };
  };
  return { made, audio };
}

describe('Feedback', () => {
  it('makes no sound and no vibration while off', () => {
    const { made, audio } = fakeAudio();
    const buzz: number[] = [];
    const f = new Feedback(false, { audio, vibrate: (ms) => buzz.push(ms) > 0 });
    f.click();
    expect(made).toEqual({ contexts: 0, blips: 0, resumed: 0 });
    expect(buzz).toEqual([]);
  });

  it('blips and ticks on every click while on, with one audio context', () => {
    const { made, audio } = fakeAudio();
    const buzz: number[] = [];
    const f = new Feedback(true, { audio, vibrate: (ms) => buzz.push(ms) > 0 });
    f.click();
    f.click();
    expect(made.contexts).toBe(1);
    expect(made.blips).toBe(2);
    expect(made.resumed).toBeGreaterThan(0);
    expect(buzz).toEqual([10, 10]);
    f.on = false;
    f.click();
    expect(made.blips).toBe(2);
  });

  it('still vibrates where there is no audio, and survives an audio that throws', () => {
    const buzz: number[] = [];
    const f = new Feedback(true, {
      audio: () => {
        throw new Error('no audio');
      },
      vibrate: (ms) => buzz.push(ms) > 0,
    });
    expect(() => f.click()).not.toThrow();
    expect(buzz).toEqual([10]);
  });
});
