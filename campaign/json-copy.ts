import type { JsonValue } from '../events/json.ts';

/** Deeper than this, a campaign's value is refused: the log, projections and JSON.stringify recurse on it. */
export const MAX_JSON_DEPTH = 1000;

/** A JSON copy of a campaign's value, or where it stops being JSON. */
export type JsonCopy = { ok: true; value: JsonValue } | { ok: false; problem: string };

/**
 * Copies `value` as plain JSON in one pass, reading every property once: a getter cannot show the
 * check one value and the run another. Refuses undefined, functions, NaN, cycles, class instances
 * and nesting beyond MAX_JSON_DEPTH, naming the place (`where` is the root's name).
 */
export function copyJson(value: unknown, where: string): JsonCopy {
  const open = new Set<object>();
  let problem: string | null = null;
  const copy = (item: unknown, at: () => string, depth: number): JsonValue => {
    if (item === null || typeof item === 'string' || typeof item === 'boolean') return item;
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) throw (problem = `${at()} is ${item}`);
      return item;
    }
    if (typeof item !== 'object') throw (problem = `${at()} is ${item === undefined ? 'undefined' : `a ${typeof item}`}`);
    if (depth >= MAX_JSON_DEPTH) throw (problem = `${where} is nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (open.has(item)) throw (problem = `${at()} is a circular reference`);
    open.add(item);
    try {
      if (Array.isArray(item)) {
        const out: JsonValue[] = new Array(item.length);
        for (let i = 0; i < item.length; i += 1) out[i] = copy(item[i], () => `${at()}[${i}]`, depth + 1);
        return out;
      }
      const proto = Object.getPrototypeOf(item);
      if (proto !== Object.prototype && proto !== null) throw (problem = `${at()} is a ${(item as object).constructor?.name ?? 'non-plain'} object`);
      const out: { [key: string]: JsonValue } = {};
      for (const key of Object.keys(item)) out[key] = copy((item as Record<string, unknown>)[key], () => `${at()}.${key}`, depth + 1);
      return out;
    } finally {
      open.delete(item);
    }
  };
  try {
    return { ok: true, value: copy(value, () => where, 0) };
  } catch (error) {
    if (problem !== null) return { ok: false, problem };
    // A getter or proxy of the campaign's threw while being read.
    return { ok: false, problem: `${where} could not be read: ${error instanceof Error ? error.message : String(error)}` };
  }
}
