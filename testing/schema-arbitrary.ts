import fc from 'fast-check';
import { MatterStackError } from '../events/errors.ts';
import type { JsonValue } from '../events/json.ts';
import type { TaskSpec } from '../events/workflow.ts';
import type { ResultsArbitrary } from './outcomes.ts';

/*
 * What a task's `resultsSchema` allows, as a fast-check arbitrary: the data `checkCampaign` draws
 * for a completed task the user gave no arbitrary for. Only the common subset of JSON Schema is
 * drawn from; any other keyword is refused by name rather than ignored (ignoring `pattern`, say,
 * would draw data the run itself refuses).
 */

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly']);
const SUPPORTED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
]);
type SchemaType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';
const TYPES: readonly SchemaType[] = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];

type Schema = Record<string, unknown>;
const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Any JSON value, a few levels deep: what a schema without constraints (or `true`) allows. */
const ANY_JSON: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>;

/** Draws what the schema of task `taskId` allows; `at` names the subschema for errors. */
class SchemaDraw {
  private readonly taskId: string;

  constructor(taskId: string) {
    this.taskId = taskId;
  }

  private refuse(at: string, message: string, keyword?: string): MatterStackError {
    return new MatterStackError('VALIDATION_FAILED', `task ${this.taskId}: ${at}: ${message}`, { taskId: this.taskId, at, ...(keyword !== undefined ? { keyword } : {}) });
  }

  of(schema: unknown, at: string): fc.Arbitrary<JsonValue> {
    if (schema === true) return ANY_JSON;
    if (!isSchema(schema)) throw this.refuse(at, 'nothing can be drawn from a schema that is not an object (or true)');
    for (const key of Object.keys(schema)) {
      if (!SUPPORTED.has(key) && !ANNOTATIONS.has(key)) {
        throw this.refuse(at, `keyword "${key}" is not supported by checkCampaign's generator (it draws from ${[...SUPPORTED].join(', ')}); give this task a \`results\` arbitrary instead`, key);
      }
    }
    if ('const' in schema) return fc.constant(schema.const as JsonValue);
    if ('enum' in schema) {
      const values = schema.enum;
      if (!Array.isArray(values) || values.length === 0) throw this.refuse(`${at}.enum`, 'must be a non-empty array');
      return fc.constantFrom(...(values as JsonValue[]));
    }
    const types = this.typesOf(schema, at);
    if (types === null) return ANY_JSON;
    const arbitraries = types.map((type) => this.ofType(type, schema, at));
    return arbitraries.length === 1 ? arbitraries[0]! : fc.oneof(...arbitraries);
  }

  /** The declared types, else the one the keywords imply, else null (any JSON value). */
  private typesOf(schema: Schema, at: string): SchemaType[] | null {
    const declared = schema.type;
    if (declared !== undefined) {
      const list = Array.isArray(declared) ? declared : [declared];
      if (list.length === 0 || !list.every((type): type is SchemaType => TYPES.includes(type as SchemaType))) throw this.refuse(`${at}.type`, `must be one of ${TYPES.join(', ')} (or an array of them)`);
      return list;
    }
    if ('properties' in schema || 'required' in schema) return ['object'];
    if ('items' in schema || 'minItems' in schema || 'maxItems' in schema) return ['array'];
    if ('minLength' in schema || 'maxLength' in schema) return ['string'];
    if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].some((key) => key in schema)) return ['number'];
    return null;
  }

  private ofType(type: SchemaType, schema: Schema, at: string): fc.Arbitrary<JsonValue> {
    switch (type) {
      case 'null':
        return fc.constant(null);
      case 'boolean':
        return fc.boolean();
      case 'string':
        return fc.string({ minLength: this.count(schema, 'minLength', at) ?? 0, ...this.maxOf(schema, 'maxLength', at) });
      case 'integer':
        return this.integer(schema, at);
      case 'number':
        return this.number(schema, at);
      case 'array':
        return fc.array(this.of(schema.items ?? true, `${at}.items`), { minLength: this.count(schema, 'minItems', at) ?? 0, ...this.maxOf(schema, 'maxItems', at) });
      case 'object':
        return this.object(schema, at);
    }
  }

  private object(schema: Schema, at: string): fc.Arbitrary<JsonValue> {
    const properties = schema.properties ?? {};
    if (!isSchema(properties)) throw this.refuse(`${at}.properties`, 'must be an object of schemas');
    const required = schema.required ?? [];
    if (!Array.isArray(required) || !required.every((name) => typeof name === 'string')) throw this.refuse(`${at}.required`, 'must be an array of property names');
    const fields: Record<string, fc.Arbitrary<JsonValue>> = {};
    for (const [name, sub] of Object.entries(properties)) fields[name] = this.of(sub, `${at}.properties.${name}`);
    // A required property the schema does not describe may be anything.
    for (const name of required) fields[name] ??= ANY_JSON;
    // Only the declared properties are drawn: whatever additionalProperties says, that is allowed.
    return fc.record(fields, { requiredKeys: required, noNullPrototype: true });
  }

  private integer(schema: Schema, at: string): fc.Arbitrary<JsonValue> {
    const low = this.bound(schema, 'minimum', at);
    const lowOpen = this.bound(schema, 'exclusiveMinimum', at);
    const high = this.bound(schema, 'maximum', at);
    const highOpen = this.bound(schema, 'exclusiveMaximum', at);
    const min = Math.max(low === undefined ? -Infinity : Math.ceil(low), lowOpen === undefined ? -Infinity : Math.floor(lowOpen) + 1);
    const max = Math.min(high === undefined ? Infinity : Math.floor(high), highOpen === undefined ? Infinity : Math.ceil(highOpen) - 1);
    if (min > max) throw this.refuse(at, 'no integer lies between its bounds');
    return fc.integer({ ...(Number.isFinite(min) ? { min } : {}), ...(Number.isFinite(max) ? { max } : {}) });
  }

  private number(schema: Schema, at: string): fc.Arbitrary<JsonValue> {
    const low = this.bound(schema, 'minimum', at);
    const lowOpen = this.bound(schema, 'exclusiveMinimum', at);
    const high = this.bound(schema, 'maximum', at);
    const highOpen = this.bound(schema, 'exclusiveMaximum', at);
    // The tighter of each pair: an exclusive bound at or above the inclusive one wins.
    const min = lowOpen !== undefined && (low === undefined || lowOpen >= low) ? { min: lowOpen, minExcluded: true } : low !== undefined ? { min: low } : {};
    const max = highOpen !== undefined && (high === undefined || highOpen <= high) ? { max: highOpen, maxExcluded: true } : high !== undefined ? { max: high } : {};
    let doubles: fc.Arbitrary<number>;
    try {
      doubles = fc.double({ ...min, ...max, noNaN: true, noDefaultInfinity: true });
    } catch {
      // fast-check refuses bounds with no double between them (exclusive bounds next to each other included).
      throw this.refuse(at, 'no number lies between its bounds');
    }
    // -0 is no JSON number of its own (it is written 0).
    return doubles.map((x) => (x === 0 ? 0 : x));
  }

  private bound(schema: Schema, key: string, at: string): number | undefined {
    const value = schema[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.refuse(`${at}.${key}`, 'must be a number');
    return value;
  }

  private count(schema: Schema, key: string, at: string): number | undefined {
    const value = schema[key];
    if (value === undefined) return undefined;
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw this.refuse(`${at}.${key}`, 'must be a non-negative integer');
    return value as number;
  }

  private maxOf(schema: Schema, key: string, at: string): { maxLength?: number } {
    const value = this.count(schema, key, at);
    return value === undefined ? {} : { maxLength: value };
  }
}

/**
 * A fast-check arbitrary of the JSON values `schema` allows (the common subset: type, properties,
 * required, items, enum, const, bounds on numbers, lengths and item counts). Throws
 * VALIDATION_FAILED naming the task and the keyword it cannot draw from.
 */
export function schemaArbitrary(schema: unknown, taskId: string): fc.Arbitrary<JsonValue> {
  return new SchemaDraw(taskId).of(schema, 'resultsSchema');
}

/**
 * The data a completed task reports, drawn from its resultsSchema (none without one). Each schema's
 * arbitrary is made once: fast-check replays a shrunk value only for the same arbitrary object.
 */
export function resultsFromSchemas(): ResultsArbitrary {
  const made = new Map<string, fc.Arbitrary<JsonValue>>();
  return (task: TaskSpec) => {
    if (task.resultsSchema === undefined || task.kind === 'gate') return undefined;
    const key = JSON.stringify(task.resultsSchema);
    let arbitrary = made.get(key);
    if (arbitrary === undefined) {
      arbitrary = schemaArbitrary(task.resultsSchema, task.id);
      made.set(key, arbitrary);
    }
    return arbitrary;
  };
}
