import { UsageError } from './usage-error.ts';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+)([smhdw])$/;
// A date, or a date and time with an optional UTC offset; Date.parse alone accepts too much ("1").
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * The instant a `--since` value names: a duration back from `now` (`90s`, `30m`, `2h`, `3d`, `1w`)
 * or an ISO date (`2026-12-01`, `2026-12-01T08:00:00Z`). A usage error naming `option` otherwise.
 */
export function parseSince(option: string, value: string, now: Date, command?: string): Date {
  const duration = DURATION.exec(value);
  if (duration !== null) return new Date(now.getTime() - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]);
  const time = ISO_DATE.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new UsageError(`--${option} must be a duration (90s, 30m, 2h, 3d, 1w) or an ISO date (2026-12-01, 2026-12-01T08:00:00Z), got "${value}"`, command);
  }
  return new Date(time);
}
