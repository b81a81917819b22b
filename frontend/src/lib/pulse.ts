// The game's pulse as a sparkline: the server's clicks per second over the last minute
// (docs/protocol.md, "rate") turned into SVG path data. No chart library: 60 points.
import type { Rate } from './protocol';

/** Seconds the pulse covers; the server sends exactly this many. */
export const PULSE_SECONDS = 60;

export interface Sparkline {
  /** The line, "M x,y L x,y ..." in a viewBox of width × height. */
  line: string;
  /** The same line closed along the bottom, for the filled area under it. */
  area: string;
  /** The last complete second's clicks. */
  now: number;
  /** The highest second in the window. */
  peak: number;
  /** Sum over the window. */
  total: number;
}

/**
 * The last PULSE_SECONDS counts, oldest first, padded with zeros on the left when fewer
 * came (a server that just started), so the newest second is always at the right edge.
 */
export function normaliseRate(rate: readonly number[] | null | undefined): number[] {
  const src = (rate ?? []).slice(-PULSE_SECONDS).map((v) => (Number.isFinite(v) && v > 0 ? Math.floor(v) : 0));
  return [...new Array<number>(PULSE_SECONDS - src.length).fill(0), ...src];
}

const fmt = (n: number) => (Math.round(n * 100) / 100).toString();

/**
 * The sparkline of rate in a box of width × height. The vertical scale runs from 0 to
 * the window's peak (at least 1, so a quiet minute is a flat line at the bottom rather
 * than a division by zero), with pad units kept clear at the top and bottom for the
 * stroke.
 */
export function sparkline(rate: Rate | null | undefined, width: number, height: number, pad = 1.5): Sparkline {
  const values = normaliseRate(rate);
  const peak = Math.max(0, ...values);
  const scale = Math.max(1, peak);
  const step = width / (PULSE_SECONDS - 1);
  const span = height - 2 * pad;
  const pts = values.map((v, i) => `${fmt(i * step)},${fmt(height - pad - (v / scale) * span)}`);
  const line = `M${pts.join(' L')}`;
  const area = `${line} L${fmt(width)},${fmt(height)} L0,${fmt(height)} Z`;
  const total = values.reduce((a, b) => a + b, 0);
  return { line, area, now: values[PULSE_SECONDS - 1] ?? 0, peak, total };
}

/** The chart's text alternative: what a sighted player reads off it. */
export function describePulse(s: Sparkline): string {
  if (s.total === 0) return 'No clicks in the whole game over the last minute.';
  const per = (n: number) => `${n.toLocaleString('en-US')} click${n === 1 ? '' : 's'} a second`;
  return `The whole game over the last minute: ${per(s.now)} now, at most ${per(s.peak)}, ${s.total.toLocaleString('en-US')} clicks in all.`;
}
