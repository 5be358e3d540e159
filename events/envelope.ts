import { z } from 'zod';
import { DomainChangeSchema } from './changes.ts';
import { IdSchema } from './ids.ts';
import { JsonValueSchema } from './json.ts';

export const SCHEMA_VERSION = 1;

/** An XState state value as logged (`"waiting"` or `{ "execute": "dispatching" }`). */
export type LoggedStateValue = string | { [key: string]: LoggedStateValue };
export const StateValueSchema: z.ZodType<LoggedStateValue> = z.lazy(() =>
  z.union([z.string(), z.record(z.string(), StateValueSchema)]),
);

/**
 * What a writer hands to `EventLog.append`: one transition of one actor.
 * `type`/`payload` are the event the actor processed, `from`/`to` its state before and after,
 * `changes` the domain facts the transition produced.
 */
export const NewEventSchema = z.strictObject({
  eventId: z.string().min(1).max(128),
  type: z.string().min(1).max(128),
  actor: z.union([z.literal('run'), IdSchema]),
  time: z.iso.datetime({ offset: true }),
  payload: JsonValueSchema,
  from: StateValueSchema.nullable().default(null),
  to: StateValueSchema.nullable().default(null),
  changes: z.array(DomainChangeSchema).default([]),
});

/** A record as read back: the event plus where the log put it. */
export const StoredEventSchema = NewEventSchema.extend({
  runId: IdSchema,
  seq: z.number().int().positive(),
  /** Global position (SQLite row id, JetStream stream sequence); null where the backend has none. */
  position: z.number().int().nonnegative().nullable(),
  schemaVersion: z.number().int().positive(),
});

/**
 * What a fold of the domain changes needs of a record (projections read nothing else): the
 * envelope's place, actor and time, and the changes. A `StoredEvent` is one.
 */
export const ChangeRecordSchema = StoredEventSchema.pick({ runId: true, seq: true, position: true, schemaVersion: true, actor: true, time: true, changes: true });

export type NewEvent = z.input<typeof NewEventSchema>;
export type ValidNewEvent = z.output<typeof NewEventSchema>;
export type StoredEvent = z.output<typeof StoredEventSchema>;
export type ChangeRecord = z.output<typeof ChangeRecordSchema>;
