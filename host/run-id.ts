import { randomBytes } from 'node:crypto';

/** A new run id `YYYYMMDD_HHMMSS_<8 hex>` (UTC): ids sort chronologically. */
export function newRunId(now: Date = new Date()): string {
  const iso = now.toISOString();
  const date = iso.slice(0, 10).replaceAll('-', '');
  const time = iso.slice(11, 19).replaceAll(':', '');
  return `${date}_${time}_${randomBytes(4).toString('hex')}`;
}
