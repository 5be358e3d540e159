import { MatterStackError } from './errors.ts';

/** Canonical operator key `kind.name` (SPEC §2). */
export const OPERATOR_KEY_PATTERN = /^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9_.-]*$/;
const KIND = /^[a-z][a-z0-9_]*$/;
const NAME = /^[a-z0-9][a-z0-9_.-]*$/;

/** Legacy operator names of the original, matched case-insensitively. */
export const LEGACY_OPERATOR_KEYS: Readonly<Record<string, string>> = {
  hpc: 'hpc.default',
  local: 'local.default',
  human: 'human.default',
  experiment: 'experiment.default',
};

/** A checked key: canonical, or why it is not one. */
export type KeyCheck = { ok: true; key: string } | { ok: false; key: string; reason: string };

/** Normalises an operator key (trim, lower-case, legacy names) and says why it is invalid if it is. */
export function checkOperatorKey(raw: string): KeyCheck {
  const key = raw.trim().toLowerCase();
  // hasOwn: a raw "__proto__" or "constructor" must not reach Object.prototype.
  if (Object.hasOwn(LEGACY_OPERATOR_KEYS, key)) return { ok: true, key: LEGACY_OPERATOR_KEYS[key] as string };
  if (key.length === 0 || key.length > 128) return { ok: false, key, reason: `operator key "${raw}" must have 1-128 characters` };
  if (/\s/.test(key)) return { ok: false, key, reason: `operator key "${raw}" contains whitespace` };
  if (key.includes('..')) return { ok: false, key, reason: `operator key "${raw}" contains ".."` };
  const dot = key.indexOf('.');
  if (dot < 0) return { ok: false, key, reason: `operator key "${raw}" is not of the form kind.name` };
  const kind = key.slice(0, dot);
  const name = key.slice(dot + 1);
  if (!KIND.test(kind)) return { ok: false, key, reason: `operator key "${raw}": kind "${kind}" must match [a-z][a-z0-9_]*` };
  if (!NAME.test(name)) return { ok: false, key, reason: `operator key "${raw}": name "${name}" must match [a-z0-9][a-z0-9_.-]*` };
  return { ok: true, key };
}

/** The canonical key for `raw`, or null when it is not a valid key nor a legacy name. */
export function tryNormalizeOperatorKey(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const check = checkOperatorKey(raw);
  return check.ok ? check.key : null;
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
