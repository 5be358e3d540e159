import { z } from 'zod';
import type { JsonValue } from './json.ts';

/*
 * The JSON Schema a gate task may declare for the data of its approval (`inputSchema`), and a
 * compute or external task for the data it reports (`resultsSchema`). Checked when the workflow is
 * planned (inputSchemaProblem), against each approve (inputMismatch) and each completed attempt's data (schemaMismatch).
 * Validation is zod's own converter (z.fromJSONSchema): it ignores malformed keywords, so the
 * schema's shape is checked here first, keyword by keyword, and anything outside the subset is refused
 * rather than silently ignored.
 */

const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly']);
const COUNTS = new Set(['minItems', 'maxItems', 'minLength', 'maxLength', 'minProperties', 'maxProperties']);
const NUMBERS = new Set(['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']);
const SUBSCHEMA_MAPS = new Set(['properties', '$defs', 'definitions']);
const SUBSCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why `schema` is not a usable inputSchema (or the task field `field`, e.g. resultsSchema), naming the keyword's path; or null. */
export function inputSchemaProblem(schema: unknown, field = 'inputSchema'): string | null {
  const shape = shapeProblem(schema, field);
  if (shape !== null) return shape;
  try {
    compile(schema as Record<string, unknown>);
    return null;
  } catch (error) {
    return `${field}: ${(error as Error).message}`;
  }
}

function shapeProblem(schema: unknown, at: string): string | null {
  if (typeof schema === 'boolean') return null;
  if (!isObject(schema)) return `${at}: must be a JSON Schema object or a boolean`;
  for (const [key, value] of Object.entries(schema)) {
    const where = `${at}.${key}`;
    const problem = keywordProblem(key, value, where);
    if (problem !== null) return problem;
  }
  return null;
}

function keywordProblem(key: string, value: unknown, where: string): string | null {
  if (ANNOTATIONS.has(key) || key === 'enum' || key === 'const') {
    return key === 'enum' && !Array.isArray(value) ? `${where}: must be an array` : null;
  }
  if (key === 'type') {
    const types = Array.isArray(value) ? value : [value];
    return types.length > 0 && types.every((t) => typeof t === 'string' && TYPES.has(t)) ? null : `${where}: must be one of ${[...TYPES].join(', ')} (or an array of them)`;
  }
  if (COUNTS.has(key)) return Number.isSafeInteger(value) && (value as number) >= 0 ? null : `${where}: must be a non-negative integer`;
  if (NUMBERS.has(key)) return typeof value === 'number' && Number.isFinite(value) ? null : `${where}: must be a number`;
  if (key === 'uniqueItems') return typeof value === 'boolean' ? null : `${where}: must be a boolean`;
  if (key === 'format') return typeof value === 'string' ? null : `${where}: must be a string`;
  if (key === 'pattern') {
    if (typeof value !== 'string') return `${where}: must be a string`;
    try {
      new RegExp(value, 'u');
      return null;
    } catch (error) {
      return `${where}: ${(error as Error).message}`;
    }
  }
  if (key === 'required') return Array.isArray(value) && value.every((v) => typeof v === 'string') ? null : `${where}: must be an array of property names`;
  if (key === '$ref') return typeof value === 'string' && value.startsWith('#') ? null : `${where}: only local references (#/…) are allowed`;
  if (key === 'items' || key === 'additionalProperties') return shapeProblem(value, where);
  if (SUBSCHEMA_MAPS.has(key)) {
    if (!isObject(value)) return `${where}: must be an object of schemas`;
    for (const [name, sub] of Object.entries(value)) {
      const problem = shapeProblem(sub, `${where}.${name}`);
      if (problem !== null) return problem;
    }
    return null;
  }
  if (SUBSCHEMA_LISTS.has(key)) {
    if (!Array.isArray(value) || value.length === 0) return `${where}: must be a non-empty array of schemas`;
    for (let i = 0; i < value.length; i++) {
      const problem = shapeProblem(value[i], `${where}.${i}`);
      if (problem !== null) return problem;
    }
    return null;
  }
  return `${where}: unsupported keyword (supported: type, properties, required, additionalProperties, items, enum, const, anyOf, oneOf, allOf, $ref/$defs, pattern, format, min/max bounds)`;
}

// Compiled once per schema object: a run's task spec is the same object for every approve.
const compiled = new WeakMap<object, z.ZodType>();
function compile(schema: Record<string, unknown> | boolean): z.ZodType {
  if (typeof schema === 'boolean') return schema ? z.unknown() : z.never();
  let out = compiled.get(schema);
  if (out === undefined) {
    out = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    compiled.set(schema, out);
  }
  return out;
}

/** Where approval data breaks a gate's inputSchema. */
export interface InputMismatch {
  /** `data`, `data.batch`, `data.samples.0`. */
  field: string;
  message: string;
}

/**
 * The first place `data` breaks `schema` (a schema accepted by inputSchemaProblem), or null when
 * it matches. Pure and deterministic: the run machine calls it to accept or refuse an approve.
 */
export function inputMismatch(schema: Record<string, unknown>, data: JsonValue | undefined): InputMismatch | null {
  if (data === undefined) return { field: 'data', message: 'missing: this gate declares an inputSchema, so an approve must carry data' };
  return schemaMismatch(schema, data);
}

/** The first place `data` breaks `schema` (a gate's inputSchema, a task's resultsSchema), or null when it matches. */
export function schemaMismatch(schema: Record<string, unknown>, data: JsonValue): InputMismatch | null {
  let result: ReturnType<z.ZodType['safeParse']>;
  try {
    result = compile(schema).safeParse(data);
  } catch (error) {
    return { field: 'data', message: `the schema cannot be used: ${(error as Error).message}` };
  }
  if (result.success) return null;
  const issue = result.error.issues[0]!;
  const path = ['data', ...issue.path.map(String)];
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]!);
  return { field: path.join('.'), message: issue.message };
}
