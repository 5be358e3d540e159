// A time axis that squeezes idle stretches (a gate may wait for days) but labels their real length.

/** An idle stretch drawn narrow. */
export interface Squeeze {
  from: number;
  to: number;
  x: number;
}

/** The axis: instant → x, and the stretches it squeezed. */
export interface TimeScale {
  x(time: number): number;
  width: number;
  squeezes: Squeeze[];
}

/** Pixels an idle stretch gets, whatever its length. */
const SQUEEZED_PX = 36;

/**
 * Places the instants at which something happened on `width` pixels; a gap between two of them
 * longer than a fifth of the busy time (and at least 10 s) is drawn SQUEEZED_PX wide.
 */
export function timeScale(instants: readonly number[], width: number): TimeScale {
  const points = [...new Set(instants)].sort((a, b) => a - b);
  if (points.length < 2) return { x: () => 0, width, squeezes: [] };
  const gaps = points.slice(1).map((t, i) => t - (points[i] as number));
  const total = (points[points.length - 1] as number) - (points[0] as number);
  const limit = Math.max(10_000, total / 5);
  const idle = gaps.map((g) => g > limit);
  const busy = gaps.reduce((sum, g, i) => sum + (idle[i] ? 0 : g), 0);
  const squeezedCount = idle.filter(Boolean).length;
  const perMs = busy === 0 ? 0 : Math.max(0, width - squeezedCount * SQUEEZED_PX) / busy;
  const xs = [0];
  const squeezes: Squeeze[] = [];
  gaps.forEach((g, i) => {
    const x = xs[i] as number;
    if (idle[i]) squeezes.push({ from: points[i] as number, to: points[i + 1] as number, x });
    xs.push(x + (idle[i] ? SQUEEZED_PX : g * perMs));
  });
  const x = (time: number): number => {
    if (time <= (points[0] as number)) return 0;
    let lo = 0;
    let hi = points.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((points[mid] as number) <= time) lo = mid;
      else hi = mid;
    }
    if (time >= (points[hi] as number)) return xs[hi] as number;
    const a = points[lo] as number;
    const b = points[hi] as number;
    return (xs[lo] as number) + ((time - a) / (b - a)) * ((xs[hi] as number) - (xs[lo] as number));
  };
  return { x, width: xs[xs.length - 1] as number, squeezes };
}
