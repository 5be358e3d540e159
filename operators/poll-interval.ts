import type { OperatorEntry } from '../workspace/operators-config.ts';
import { DEFAULT_POLL_INTERVAL_MS } from './watch-attempt-dir.ts';

/** Default poll interval of a Slurm operator (SPEC §3: 30 s). */
export const DEFAULT_SLURM_POLL_INTERVAL_MS = 30_000;

/**
 * How often the operator configured by `entry` looks at its attempts (operators.yaml
 * `poll_interval_seconds`, a Slurm backend's own first), in ms: the longest a change waits to be seen.
 */
export function pollIntervalMsOf(entry: OperatorEntry): number {
  if (entry.backend?.type === 'slurm') {
    const seconds = entry.backend.poll_interval_seconds ?? entry.pollIntervalSeconds;
    return seconds !== undefined ? seconds * 1000 : DEFAULT_SLURM_POLL_INTERVAL_MS;
  }
  return entry.pollIntervalSeconds !== undefined ? entry.pollIntervalSeconds * 1000 : DEFAULT_POLL_INTERVAL_MS;
}
