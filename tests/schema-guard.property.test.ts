import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ChangeRecordSchema, StoredEventSchema } from '../events/envelope.ts';
import { isMatterStackError } from '../events/errors.ts';
import { compileGuard } from '../events/schema-guard.ts';
import { ATTEMPT_STATUSES, RUN_PHASES, RUN_STATUSES, TASK_STATUSES } from '../events/statuses.ts';
import { validateStoredEvent } from '../events/validate-events.ts';

/*
 * The guards compiled from the zod schemas (events/schema-guard.ts) must never accept what zod
 * refuses, nor anything zod would return changed (defaults to fill, keys to drop): a record they
 * accept is used as it is. And a record in the log's normal form (what the host appends) must
 * pass its guard, or every read pays zod's price. Checked on random valid records and on the same
 * records mutated anywhere in their tree (a value replaced by something odd, a key deleted, an
 * unknown key added). PROPERTY_RUNS scales the runs.
 */

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1);
const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });
/** True when no object inside `value` has a `__proto__` key (the fast path hands those to zod by design). */
function withoutProtoKeys(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Object.hasOwn(value, '__proto__')) return false;
  return Object.values(value).every(withoutProtoKeys);
}
// "Valid" generators never produce `__proto__` keys; the agreement properties below still do.
const json = fc.jsonValue({ maxDepth: 3 }).filter(withoutProtoKeys);
const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
const jsonObject = fc.dictionary(key, json, { maxKeys: 4 });
const stringRecord = fc.dictionary(key, fc.string({ maxLength: 8 }), { maxKeys: 3 });

/** Drops the keys whose value is undefined half of the time (absent and undefined both occur). */
function compact<T extends Record<string, unknown>>(value: T, drop: boolean): T {
  if (!drop) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

const withCompact = <T extends Record<string, unknown>>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.tuple(arb, fc.boolean()).map(([value, drop]) => compact(value, drop));

const taskSpec = withCompact(
  fc.record({
    id,
    kind: optional(fc.constantFrom('compute', 'gate', 'external')),
    command: optional(fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 3 }))),
    image: optional(fc.string({ maxLength: 8 })),
    files: optional(fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.record({ source: fc.string({ minLength: 1, maxLength: 6 }) })), { maxKeys: 3 })),
    env: optional(stringRecord),
    dependencies: optional(fc.array(id, { maxLength: 3 })),
    cores: optional(fc.integer({ min: 1, max: 128 })),
    memoryGb: optional(fc.double({ min: 0.1, max: 512, noNaN: true })),
    gpus: optional(fc.integer({ min: 0, max: 8 })),
    timeLimitMinutes: optional(fc.double({ min: 0.5, max: 1e4, noNaN: true })),
    allowFailure: optional(fc.boolean()),
    allowDependencyFailure: optional(fc.boolean()),
    downloadPatterns: optional(withCompact(fc.record({ include: optional(fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 })), exclude: optional(fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 })) }))),
    operatorKey: optional(fc.string({ maxLength: 8 })),
    retries: optional(fc.integer({ min: 0, max: 100 })),
    retryOn: optional(fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 2 })),
    retryBackoffSeconds: optional(fc.double({ min: 0, max: 600, noNaN: true })),
    message: optional(fc.string({ maxLength: 8 })),
    request: optional(json),
    inputSchema: optional(fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 3 })),
  }),
);

const change = fc.oneof(
  fc.record({ kind: fc.constant('run.created'), workspace: fc.string({ maxLength: 12 }), maxConcurrent: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }) }),
  withCompact(fc.record({ kind: fc.constant('run.status'), status: fc.constantFrom(...RUN_STATUSES), reason: optional(fc.string({ maxLength: 8 })) })),
  fc.record({ kind: fc.constant('run.phase'), phase: fc.constantFrom(...RUN_PHASES) }),
  fc.record({ kind: fc.constant('workflow.planned'), iteration: fc.nat(50), tasks: fc.array(taskSpec, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('campaign.state'), iteration: fc.nat(50), state: json }),
  withCompact(fc.record({ kind: fc.constant('task.status'), taskId: id, status: fc.constantFrom(...TASK_STATUSES), reason: optional(fc.string({ maxLength: 8 })) })),
  fc.record({ kind: fc.constant('attempt.created'), attemptId: id, taskId: id, operatorKey: fc.string({ maxLength: 12 }) }),
  withCompact(
    fc.record({
      kind: fc.constant('attempt.status'),
      attemptId: id,
      status: fc.constantFrom(...ATTEMPT_STATUSES),
      reason: optional(fc.string({ maxLength: 8 })),
      externalId: optional(fc.string({ maxLength: 8 })),
      operatorData: optional(jsonObject),
      dir: optional(fc.string({ maxLength: 8 })),
    }),
  ),
  withCompact(fc.record({ kind: fc.constant('attempt.results'), attemptId: id, files: stringRecord, data: optional(json) })),
  withCompact(
    fc.record({
      kind: fc.constant('attempt.decision'),
      attemptId: id,
      verb: fc.constantFrom('approved', 'rejected'),
      by: optional(fc.string({ maxLength: 8 })),
      comment: optional(fc.string({ maxLength: 8 })),
      data: optional(json),
    }),
  ),
  withCompact(
    fc.record({
      kind: fc.constant('command'),
      verb: fc.string({ maxLength: 8 }),
      accepted: fc.boolean(),
      code: optional(fc.string({ maxLength: 8 })),
      reason: optional(fc.string({ maxLength: 8 })),
      target: optional(fc.string({ maxLength: 8 })),
      by: optional(fc.string({ maxLength: 8 })),
    }),
  ),
);

const stateValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 8 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 2 })),
})).value;

const time = fc
  .tuple(
    fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }),
    fc.constantFrom('Z', '+02:00', '-11:30', '.5Z', '+23:59'),
  )
  .map(([date, suffix]) => {
    const iso = date.toISOString();
    if (suffix === 'Z') return iso;
    if (suffix === '.5Z') return `${iso.slice(0, 19)}.5Z`;
    return `${iso.slice(0, 19)}${suffix}`;
  });

const newEvent = withCompact(
  fc.record({
    eventId: fc.string({ minLength: 1, maxLength: 20 }),
    type: fc.string({ minLength: 1, maxLength: 20 }),
    actor: fc.oneof(fc.constant('run'), id),
    time,
    payload: json,
    from: optional(fc.option(stateValue, { nil: null })),
    to: optional(fc.option(stateValue, { nil: null })),
    changes: optional(fc.array(change, { maxLength: 4 })),
  }),
);

/** Values that sit on the edges of what the schemas accept. */
const odd = fc.oneof(
  fc.constantFrom<unknown>(
    undefined, null, NaN, Infinity, -Infinity, -1, 0, 1, 1.5, 2 ** 53, 101, '', 'x', 'bad id!', 'a'.repeat(65), 'a'.repeat(129),
    [], {}, [1], ['a'], [''], { source: '' }, { source: 'a' }, { a: 1 }, { a: 'b' }, true, false,
    'PENDING', 'RUNNING', 'COMPLETED', 'CREATED', 'compute', 'plan', 'run', '2025-01-01T00:00:00Z', '2025-02-29T00:00:00Z', '2025-01-01T24:00:00Z',
    '2025-01-01T00:00Z', '2025-01-01 00:00:00Z',
  ),
  fc.anything({ maxDepth: 2 }),
);
const keyNames = fc.constantFrom('kind', 'id', 'status', 'reason', 'tasks', 'files', 'source', 'extra', 'dependencies', 'command', 'state', 'from', 'changes', 'time', '0');

/** Every object and array inside `value` (the value itself included). */
function containers(value: unknown, out: Array<Record<string, unknown> | unknown[]> = []): Array<Record<string, unknown> | unknown[]> {
  if (typeof value !== 'object' || value === null) return out;
  out.push(value as Record<string, unknown>);
  for (const child of Object.values(value)) containers(child, out);
  return out;
}

type Mutation = { at: number; op: 'set' | 'delete' | 'add'; key: string; pick: number; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('set', 'delete', 'add'),
  key: keyNames,
  pick: fc.nat(),
  value: odd,
});

/** Applies mutations to a deep copy of `value`. */
function mutate(value: unknown, mutations: readonly Mutation[]): unknown {
  const copy = structuredClone(value);
  for (const m of mutations) {
    const all = containers(copy);
    if (all.length === 0) return m.value;
    const target = all[m.at % all.length]! as Record<string, unknown>;
    if (Array.isArray(target)) {
      // Arrays get elements, not named properties (JSON has no such thing).
      if (m.op === 'add' || target.length === 0) target.push(structuredClone(m.value));
      else if (m.op === 'delete') target.splice(m.pick % target.length, 1);
      else target[m.pick % target.length] = structuredClone(m.value);
      continue;
    }
    const keys = Object.keys(target);
    const key = m.op === 'add' || keys.length === 0 ? m.key : keys[m.pick % keys.length]!;
    if (m.op === 'delete') delete target[key];
    else target[key] = structuredClone(m.value);
  }
  return copy;
}

/** A deep copy with ordinary prototypes, keeping keys whose value is undefined (so toStrictEqual compares content). */
function plain(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(plain);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = plain((value as Record<string, unknown>)[key]);
  return out;
}


/** The record as a backend reads it: the envelope's place around the event, and its JSON round trip. */
function stored(event: unknown): Record<string, unknown> {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  return { runId: 'run_1', seq: 3, position: 17, schemaVersion: 1, ...e };
}

/** zod's output in normal form: every default filled in (what the host appends). */
function normal(event: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(StoredEventSchema.parse(stored(event)))) as Record<string, unknown>;
}

const isStored = compileGuard(StoredEventSchema);
const isChangeRecord = compileGuard(ChangeRecordSchema);

/** The guard's promise: accepted means zod accepts it and returns an equal value. */
function expectSound(guard: (value: unknown) => boolean, schema: z.ZodType, value: unknown): void {
  if (!guard(value)) return;
  const parsed = schema.safeParse(value);
  expect(parsed.success, JSON.stringify(value)).toBe(true);
  expect(plain(parsed.data)).toStrictEqual(plain(value));
}

function changeRecordOf(record: Record<string, unknown>): Record<string, unknown> {
  const { runId, seq, position, schemaVersion, actor, time, changes } = record;
  return { runId, seq, position, schemaVersion, actor, time, changes };
}

describe('guards compiled from the zod schemas', () => {
  it('accept every record in normal form, which reads then return as they are', () => {
    fc.assert(
      fc.property(newEvent, (event) => {
        const record = normal(event);
        expect(isStored(record)).toBe(true);
        expect(isChangeRecord(changeRecordOf(record))).toBe(true);
        expect(validateStoredEvent(record as never)).toBe(record);
      }),
      { numRuns: 1000 * RUNS },
    );
  });

  it('never accept what zod refuses or would change, on mutated records', () => {
    fc.assert(
      fc.property(newEvent, fc.array(mutation, { minLength: 1, maxLength: 3 }), (event, mutations) => {
        const record = mutate(normal(event), mutations);
        expectSound(isStored, StoredEventSchema, record);
        if (typeof record === 'object' && record !== null) expectSound(isChangeRecord, ChangeRecordSchema, changeRecordOf(record as Record<string, unknown>));
      }),
      { numRuns: 2000 * RUNS },
    );
  });

  it('never accept what zod refuses or would change, on input-form records (defaults left out) and arbitrary values', () => {
    fc.assert(fc.property(newEvent, (event) => expectSound(isStored, StoredEventSchema, stored(event))), { numRuns: 1000 * RUNS });
    fc.assert(fc.property(fc.anything(), (value) => expectSound(isStored, StoredEventSchema, value)), { numRuns: 1000 * RUNS });
  });

  it('reads name a record zod refuses by run, sequence and field, whichever path it took', () => {
    fc.assert(
      fc.property(newEvent, fc.array(mutation, { minLength: 1, maxLength: 3 }), (event, mutations) => {
        const record = mutate(normal(event), mutations) as Record<string, unknown>;
        if (typeof record !== 'object' || record === null) return;
        const raw: Record<string, unknown> = { ...record, runId: 'run_1', seq: 3, position: 17, schemaVersion: 1 };
        const zod = StoredEventSchema.safeParse(raw);
        let read: unknown;
        try {
          read = validateStoredEvent(raw as never);
        } catch (error) {
          expect(isMatterStackError(error, 'INVALID_EVENT')).toBe(true);
          expect((error as Error).message).toContain('run run_1 seq 3: ');
          expect(zod.success && Array.isArray(raw.changes)).toBe(false);
          return;
        }
        expect(zod.success).toBe(true);
        expect(plain(read)).toStrictEqual(plain(zod.data));
      }),
      { numRuns: 2000 * RUNS },
    );
  });

  it('refuse to compile what they cannot check exactly', () => {
    expect(() => compileGuard(z.strictObject({ at: z.date() }))).toThrow();
    expect(() => compileGuard(z.strictObject({ a: z.unknown() }))).toThrow(/anything/);
    expect(() => compileGuard(z.tuple([z.string()]))).toThrow(/prefixItems/);
  });
});
