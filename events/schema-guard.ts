import { z } from 'zod';
import { isPlainObject } from './json.ts';

/*
 * Guards compiled from zod schemas, for reading the log back: every record read is checked, and
 * zod's parse costs 3-5 times the compiled guard (8 µs against 3 µs for an operator report, 775
 * against 153 for a plan of 249 tasks: bench/read-validation.bench.ts). The guard is built from
 * what zod itself publishes about a schema (`z.toJSONSchema`, in its output form, where every
 * defaulted field is required), so nothing is mirrored by hand: change a schema and its guard
 * changes. Refinements (`.refine`) do not appear in that export: a schema read through a guard
 * carries none but JSON's own (finite numbers, which the guard applies), and
 * tests/schema-guard.property.test.ts checks the guards against zod.
 *
 * A guard answers one question: does zod accept this value and return it unchanged? When it
 * says no, the caller asks zod, which returns the data (defaults filled in) or the error naming
 * the field. So a guard may be stricter than zod (an object with a `__proto__` key, a value
 * nested too deeply to walk) but never looser: a keyword it does not know fails the compilation.
 */

/** True when zod would accept `value` and output it as it is. */
export type Guard = (value: unknown) => boolean;

type Node = { readonly [keyword: string]: unknown };

/** Keywords that describe a value without constraining it (zod's `format` always comes with its `pattern`). */
const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'examples']);
/** The JSON Schema keywords the compiler knows; any other fails the compilation. */
const KNOWN = new Set([
  ...ANNOTATIONS,
  '$defs', '$ref', 'format', 'type', 'const', 'enum', 'anyOf', 'oneOf',
  'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'items', 'minItems', 'maxItems', 'properties', 'required', 'additionalProperties', 'propertyNames',
]);

const hasOwn = Object.prototype.hasOwnProperty;

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function all(guards: readonly Guard[]): Guard {
  if (guards.length === 1) return guards[0]!;
  return (value) => {
    for (let i = 0; i < guards.length; i++) if (!guards[i]!(value)) return false;
    return true;
  };
}

/** Compiles the guard of `schema` (see the file comment). Throws when the schema uses what the compiler does not know. */
export function compileGuard(schema: z.ZodType): Guard {
  const root = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'throw', cycles: 'ref', reused: 'inline' }) as Node;
  const defs = isNode(root.$defs) ? root.$defs : {};
  const refs = new Map<string, Guard>();
  /** Definitions referred to but not compiled yet: compiled after the root, so that recursion ends. */
  const pending: (() => void)[] = [];

  const ref = (target: unknown): Guard => {
    const name = typeof target === 'string' && target.startsWith('#/$defs/') ? target.slice('#/$defs/'.length) : undefined;
    const def = name === undefined ? undefined : defs[name];
    if (name === undefined || !isNode(def)) throw new Error(`compileGuard: unsupported $ref ${String(target)}`);
    let guard = refs.get(name);
    if (guard === undefined) {
      // Recursive definitions (JSON values, state values) refer to themselves.
      let compiled: Guard = () => false;
      guard = (value) => compiled(value);
      refs.set(name, guard);
      pending.push(() => {
        compiled = node(def);
      });
    }
    return guard;
  };

  const node = (n: Node): Guard => {
    for (const keyword of Object.keys(n)) if (!KNOWN.has(keyword)) throw new Error(`compileGuard: unsupported keyword ${keyword}`);
    if (n.format !== undefined && typeof n.pattern !== 'string') throw new Error(`compileGuard: format ${String(n.format)} without a pattern`);
    const guards: Guard[] = [];
    if (n.$ref !== undefined) guards.push(ref(n.$ref));
    if (n.type !== undefined) guards.push(typed(n));
    if (n.const !== undefined) {
      const expected = n.const;
      if (expected === null || typeof expected === 'object') throw new Error('compileGuard: only primitive const values');
      guards.push((value) => value === expected);
    }
    if (n.enum !== undefined) {
      if (!Array.isArray(n.enum) || n.enum.some((v) => v === null || typeof v === 'object')) throw new Error('compileGuard: only primitive enum values');
      const allowed: ReadonlySet<unknown> = new Set(n.enum);
      guards.push((value) => allowed.has(value));
    }
    if (n.anyOf !== undefined) guards.push(union(n.anyOf, false));
    if (n.oneOf !== undefined) guards.push(union(n.oneOf, true));
    if (guards.length === 0) throw new Error('compileGuard: a schema accepting anything (z.unknown) cannot be guarded');
    return all(guards);
  };

  /** anyOf / oneOf: by the discriminating constant when every branch is an object that has one, else branch by branch. */
  const union = (branches: unknown, exactlyOne: boolean): Guard => {
    if (!Array.isArray(branches) || !branches.every(isNode) || branches.length === 0) throw new Error('compileGuard: malformed union');
    const byTag = discriminated(branches);
    if (byTag !== undefined) {
      const { key, guards } = byTag;
      return (value) => {
        if (!isPlainObject(value)) return false;
        const guard = guards.get(value[key]);
        return guard !== undefined && guard(value);
      };
    }
    const byType = typeDispatched(branches);
    if (byType !== undefined) return byType;
    const guards = branches.map(node);
    if (!exactlyOne) return (value) => guards.some((guard) => guard(value));
    return (value) => {
      let matches = 0;
      for (const guard of guards) if (guard(value)) matches += 1;
      return matches === 1;
    };
  };

  /** The branches keyed by the value of a property every branch requires as a distinct constant, if there is one. */
  const discriminated = (branches: readonly Node[]): { key: string; guards: Map<unknown, Guard> } | undefined => {
    const first = branches[0]!;
    if (first.type !== 'object' || !isNode(first.properties) || !Array.isArray(first.required)) return undefined;
    for (const key of first.required as unknown[]) {
      if (typeof key !== 'string') continue;
      const tags = branches.map((b) => {
        const property = isNode(b.properties) ? b.properties[key] : undefined;
        const required = Array.isArray(b.required) && b.required.includes(key);
        return b.type === 'object' && required && isNode(property) && property.const !== undefined ? property.const : undefined;
      });
      if (tags.some((t) => t === undefined) || new Set(tags).size !== tags.length) continue;
      return { key, guards: new Map(tags.map((tag, i) => [tag, node(branches[i]!)])) };
    }
    return undefined;
  };

  /** Branches of distinct JSON types (a JSON value: string | number | … | object) chosen by the value's type, when they are. */
  const typeDispatched = (branches: readonly Node[]): Guard | undefined => {
    const kinds = branches.map((b) => (b.type === 'integer' ? 'number' : b.type));
    if (kinds.some((k) => typeof k !== 'string') || new Set(kinds).size !== kinds.length) return undefined;
    const guards = new Map<unknown, Guard>(branches.map((b, i) => [kinds[i], node(b)]));
    const [str, num, bool, nil, arr, obj] = ['string', 'number', 'boolean', 'null', 'array', 'object'].map((k) => guards.get(k));
    return (value) => {
      let guard: Guard | undefined;
      switch (typeof value) {
        case 'string':
          guard = str;
          break;
        case 'number':
          guard = num;
          break;
        case 'boolean':
          guard = bool;
          break;
        case 'object':
          guard = value === null ? nil : Array.isArray(value) ? arr : obj;
          break;
        default:
          return false;
      }
      return guard !== undefined && guard(value);
    };
  };

  const typed = (n: Node): Guard => {
    switch (n.type) {
      case 'string':
        return stringGuard(n);
      case 'number':
      case 'integer':
        return numberGuard(n, n.type === 'integer');
      case 'boolean':
        return (value) => typeof value === 'boolean';
      case 'null':
        return (value) => value === null;
      case 'array':
        return arrayGuard(n);
      case 'object':
        return objectGuard(n);
      default:
        throw new Error(`compileGuard: unsupported type ${JSON.stringify(n.type)}`);
    }
  };

  const arrayGuard = (n: Node): Guard => {
    const items = n.items === undefined ? undefined : isNode(n.items) ? node(n.items) : undefined;
    if (n.items !== undefined && items === undefined) throw new Error('compileGuard: only one items schema');
    const min = count(n.minItems, 0);
    const max = count(n.maxItems, Infinity);
    return (value) => {
      if (!Array.isArray(value) || value.length < min || value.length > max) return false;
      if (items !== undefined) for (let i = 0; i < value.length; i++) if (!items(value[i])) return false;
      return true;
    };
  };

  const objectGuard = (n: Node): Guard => {
    const properties = new Map<string, Guard>();
    if (n.properties !== undefined) {
      if (!isNode(n.properties)) throw new Error('compileGuard: malformed properties');
      for (const [key, sub] of Object.entries(n.properties)) {
        if (!isNode(sub)) throw new Error(`compileGuard: malformed property ${key}`);
        properties.set(key, node(sub));
      }
    }
    const required = Array.isArray(n.required) ? (n.required as unknown[]).filter((k): k is string => typeof k === 'string') : [];
    if (n.propertyNames !== undefined && !(isNode(n.propertyNames) && n.propertyNames.type === 'string' && Object.keys(n.propertyNames).length === 1)) {
      throw new Error('compileGuard: propertyNames other than strings');
    }
    const extra = n.additionalProperties;
    // zod's output form closes every object (`additionalProperties: false`, a plain object strips unknown keys): an open one is not zod's.
    if (extra === undefined || extra === true) throw new Error('compileGuard: only closed objects and records');
    const rest = extra === false ? undefined : isNode(extra) ? node(extra) : undefined;
    if (extra !== false && rest === undefined) throw new Error('compileGuard: malformed additionalProperties');
    if (rest === undefined) {
      // A closed object: each known property checked where it is, then no key beyond those seen.
      const keys = [...properties.keys()];
      const guards = keys.map((key) => properties.get(key)!);
      const isRequired = keys.map((key) => required.includes(key));
      return (value) => {
        if (!isPlainObject(value)) return false;
        let seen = 0;
        for (let i = 0; i < keys.length; i++) {
          const item = (value as Record<string, unknown>)[keys[i]!];
          if (item === undefined) {
            if (isRequired[i]) return false;
            continue;
          }
          // An inherited value (`constructor`) fails its guard: only own properties pass.
          if (!guards[i]!(item)) return false;
          seen += 1;
        }
        // Any other key (or one holding undefined, or `__proto__`, which zod drops) makes the count differ.
        let count = 0;
        for (const _ in value) count += 1;
        return count === seen;
      };
    }
    return (value) => {
      if (!isPlainObject(value)) return false;
      for (let i = 0; i < required.length; i++) if (!hasOwn.call(value, required[i]!)) return false;
      for (const key in value) {
        // zod drops a `__proto__` key from its output: not the input unchanged.
        if (key === '__proto__') return false;
        const guard = properties.get(key) ?? rest;
        if (guard === undefined || !guard(value[key])) return false;
      }
      return true;
    };
  };

  const guard = node(root);
  for (let i = 0; i < pending.length; i++) pending[i]!();
  return guardedAgainstDepth(guard);
}

function count(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Error('compileGuard: malformed count');
  return value;
}

function bound(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new Error('compileGuard: malformed bound');
  return value;
}

function stringGuard(n: Node): Guard {
  // zod counts UTF-16 code units (`.length`), as the guard does.
  const min = count(n.minLength, 0);
  const max = count(n.maxLength, Infinity);
  if (n.pattern === undefined) return (value) => typeof value === 'string' && value.length >= min && value.length <= max;
  const pattern = new RegExp(String(n.pattern));
  // The last string accepted: a record's ids and times repeat from one field and record to the next.
  let last: string | undefined;
  return (value) => {
    if (typeof value !== 'string') return false;
    if (value === last) return true;
    if (value.length < min || value.length > max || !pattern.test(value)) return false;
    last = value;
    return true;
  };
}

function numberGuard(n: Node, integer: boolean): Guard {
  const min = bound(n.minimum) ?? -Infinity;
  const max = bound(n.maximum) ?? Infinity;
  const above = bound(n.exclusiveMinimum) ?? -Infinity;
  const below = bound(n.exclusiveMaximum) ?? Infinity;
  // A JSON number is finite (zod's numbers refuse Infinity and NaN too).
  return (value) =>
    typeof value === 'number' && (integer ? Number.isInteger(value) : Number.isFinite(value)) && value >= min && value <= max && value > above && value < below;
}

/** A value nested deeper than the stack allows is not accepted here: zod decides (and explains). */
function guardedAgainstDepth(guard: Guard): Guard {
  return (value) => {
    try {
      return guard(value);
    } catch (error) {
      if (error instanceof RangeError) return false;
      throw error;
    }
  };
}
