import type { AttemptSnapshot } from './decide.ts';

/**
 * The attempt's top-level state: `snapshot.matches(phase)` for a top-level name, without XState
 * parsing the name into a state value on every call (three calls per event on the host's hot path).
 */
export function attemptPhase(snapshot: Pick<AttemptSnapshot, 'value'>): string {
  const value: unknown = snapshot.value;
  if (typeof value === 'string') return value;
  for (const key in value as object) return key;
  return '';
}

/** True while the operator holds the attempt (submitted, running, waiting_external): it is watched or polled. */
export function isWatchable(snapshot: Pick<AttemptSnapshot, 'value'>): boolean {
  const phase = attemptPhase(snapshot);
  return phase === 'submitted' || phase === 'running' || phase === 'waiting_external';
}

/** True while a completed or failed attempt's results are being collected. */
export function isCollecting(snapshot: Pick<AttemptSnapshot, 'value'>): boolean {
  const value: unknown = snapshot.value;
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return record.completed === 'collecting' || record.failed === 'collecting';
}

/** True when an operator report of `status` moves a watched attempt to collecting its results (SPEC §2: on COMPLETED and FAILED). */
export function reportStartsCollecting(status: string): boolean {
  return status === 'COMPLETED' || status === 'FAILED';
}
