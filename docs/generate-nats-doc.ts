import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import * as messages from '../events/command-messages.ts';
import { StoredEventSchema } from '../events/envelope.ts';
import { commandSubject, initCommandSubject, listCommandSubject } from '../events/subjects.ts';
import { mayPublish, parseNatsConfPermissions, type UserPermissions } from './nats-conf-permissions.ts';

// Rewrites the generated regions of docs/nats.md from the zod schemas, so the document follows
// the code: `npm run docs:nats`. tests/docs.nats.test.ts fails when the file is out of date.

/** The document this script maintains. */
export const NATS_DOC = fileURLToPath(new URL('./nats.md', import.meta.url));
/** The server configuration whose permissions the document states. */
export const NATS_CONF = fileURLToPath(new URL('../nats-users.conf', import.meta.url));
/** How to bring the document up to date (said by the drift test). */
export const REGENERATE_HINT = 'run `npm run docs:nats` to regenerate docs/nats.md';

const begin = (name: string): string => `<!-- generated:${name} begin (npm run docs:nats; do not edit) -->`;
const end = (name: string): string => `<!-- generated:${name} end -->`;

/** A schema as JSON Schema: what a message on the wire may hold (the schema's input side). */
function jsonSchema(schema: z.ZodType): string {
  return ['```json', JSON.stringify(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }), null, 2), '```'].join('\n');
}

function isSchema(value: unknown): value is z.ZodType {
  return value instanceof z.ZodType;
}

/** Records of schemas among the exports (e.g. COMMAND_PAYLOADS: request schema by verb). */
function isSchemaRecord(value: unknown): value is Record<string, z.ZodType> {
  return typeof value === 'object' && value !== null && !isSchema(value) && !Array.isArray(value) && Object.values(value).length > 0 && Object.values(value).every(isSchema);
}

const code = (items: readonly string[]): string => (items.length === 0 ? '—' : items.map((item) => `\`${item}\``).join(', '));

/** The users of nats.conf and the subjects each may publish and subscribe to. */
function usersTable(users: readonly UserPermissions[]): string {
  return [
    '| User | May publish | Never publish (denied) | May subscribe |',
    '| --- | --- | --- | --- |',
    ...users.map((u) => `| \`${u.user}\` | ${code(u.publishAllow)} | ${code(u.publishDeny)} | ${code(u.subscribeAllow)} |`),
  ].join('\n');
}

/**
 * The table of run commands: the documented subject and the authenticated one (sent as `<user>`), who
 * may send each (nats.conf: on the authenticated one, under its own name), what it becomes in the log.
 */
function commandTable(users: readonly UserPermissions[]): string {
  const allowed = (subjectOf: (user: string) => string): string => code(users.filter((u) => mayPublish(u, subjectOf(u.user))).map((u) => u.user));
  const placeholders = (subject: string): string => subject.replace('USER', '<user>').replace('RUN', '<runId>');
  const row = (subjectAs: (user?: string) => string, request: string, appends: string): string =>
    `| \`${subjectAs()}\` | \`${placeholders(subjectAs('USER'))}\` | ${request} | ${allowed(() => subjectAs())} | ${allowed((user) => subjectAs(user))} | ${appends} |`;
  const rows = messages.COMMAND_VERBS.map((verb) => {
    // The event type only depends on the verb; the payload's fields do not matter here.
    const event = messages.toRunCommand(verb, {})?.type;
    return row(
      (user) => placeholders(commandSubject('RUN', verb, user)),
      `[${verb}](#request-${verb})`,
      event === undefined ? 'nothing (answered by the worker)' : `\`${event}\``,
    );
  });
  return [
    '| Subject | Sent as `<user>` (recorded as principal) | Request | Users allowed | Users allowed as themselves | Appends to the run\'s log |',
    '| --- | --- | --- | --- | --- | --- |',
    row(initCommandSubject, '[init](#request-init)', 'a new run (`RUN.CREATED`)'),
    row(listCommandSubject, '[list](#request-list)', 'nothing (answered by the worker)'),
    ...rows,
  ].join('\n');
}

/** Every request and reply schema `events/command-messages.ts` exports, by export name. */
function schemaSections(): string {
  const out: string[] = [];
  const inRecords = new Set<unknown>();
  for (const value of Object.values(messages)) if (isSchemaRecord(value)) for (const schema of Object.values(value)) inRecords.add(schema);
  // Sorted by code point: Node lists a module's exports sorted, vitest in source order.
  const exports = Object.entries(messages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of exports) {
    if (isSchemaRecord(value)) {
      for (const [key, schema] of Object.entries(value)) {
        out.push(`<a id="request-${key}"></a>\n#### \`${key}\` (\`${name}.${key}\`)\n\n${jsonSchema(schema)}`);
      }
    } else if (isSchema(value) && !inRecords.has(value)) {
      const anchor = name === 'InitPayloadSchema' ? '<a id="request-init"></a>\n' : name === 'ListPayloadSchema' ? '<a id="request-list"></a>\n' : '';
      out.push(`${anchor}#### \`${name}\`\n\n${jsonSchema(value)}`);
    }
  }
  return out.join('\n\n');
}

/** One element of a stream message's array (the stored event without `position`, which is the message's stream sequence). */
function envelopeSection(): string {
  return `<details><summary>JSON Schema of one event (<code>StoredEventSchema</code> without <code>position</code>)</summary>\n\n${jsonSchema(StoredEventSchema.omit({ position: true }))}\n\n</details>`;
}

/** `text` (docs/nats.md) with every generated region rewritten from the schemas and `natsConf`; throws when a region's markers are missing. */
export function renderNatsDoc(text: string, natsConf: string): string {
  const users = parseNatsConfPermissions(natsConf);
  const regions: Record<string, () => string> = {
    users: () => usersTable(users),
    commands: () => commandTable(users),
    schemas: schemaSections,
    envelope: envelopeSection,
  };
  let out = text;
  for (const [name, render] of Object.entries(regions)) {
    const from = out.indexOf(begin(name));
    const to = out.indexOf(end(name));
    if (from < 0 || to < from) throw new Error(`docs/nats.md: markers of the generated region "${name}" are missing (${begin(name)} … ${end(name)})`);
    out = `${out.slice(0, from + begin(name).length)}\n${render()}\n${out.slice(to)}`;
  }
  return out;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const current = readFileSync(NATS_DOC, 'utf8');
  const next = renderNatsDoc(current, readFileSync(NATS_CONF, 'utf8'));
  if (next !== current) writeFileSync(NATS_DOC, next);
  process.stdout.write(`${next === current ? 'up to date' : 'rewrote'}: ${path.relative(process.cwd(), NATS_DOC)}\n`);
}
