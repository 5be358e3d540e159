import { MatterStackError } from '../../events/errors.ts';

// Pure on purpose (imports nothing but events/): machines/ needs the same rule for routing.

/** Canonical operator key `kind.name` (SPEC §2). */
export const OPERATOR_KEY_PATTERN = /^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9_.-]*$/;

/** Legacy operator names of the original, matched case-insensitively. */
export const LEGACY_OPERATOR_KEYS: Readonly<Record<string, string>> = {
  hpc: 'hpc.default',
  local: 'local.default',
  human: 'human.default',
  experiment: 'experiment.default',
};

/** The canonical key for `raw`, or null when it is not a valid key nor a legacy name. */
export function tryNormalizeOperatorKey(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const key = raw.trim().toLowerCase();
  if (key.length === 0 || key.length > 128 || /\s/.test(key) || key.includes('..')) return null;
  if (OPERATOR_KEY_PATTERN.test(key)) return key;
  // hasOwn: a raw "__proto__" or "constructor" must not reach Object.prototype.
  return Object.hasOwn(LEGACY_OPERATOR_KEYS, key) ? (LEGACY_OPERATOR_KEYS[key] ?? null) : null;
}

/** The canonical key for `raw` (trimmed, lower-cased, legacy names mapped); INVALID_CONFIG otherwise. */
export function normalizeOperatorKey(raw: unknown): string {
  const key = tryNormalizeOperatorKey(raw);
  if (key === null) {
    throw new MatterStackError(
      'INVALID_CONFIG',
      `invalid operator key ${typeof raw === 'string' ? JSON.stringify(raw) : `(a ${raw === null ? 'null' : typeof raw})`}: expected kind.name (kind [a-z][a-z0-9_]*, name [a-z0-9][a-z0-9_.-]*, no "..") or one of Local, HPC, Human, Experiment`,
      { key: typeof raw === 'string' ? raw : null },
    );
  }
  return key;
}

/** Splits a canonical key at its first dot. */
export function splitOperatorKey(key: string): { kind: string; name: string } {
  const canonical = normalizeOperatorKey(key);
  const dot = canonical.indexOf('.');
  return { kind: canonical.slice(0, dot), name: canonical.slice(dot + 1) };
}
