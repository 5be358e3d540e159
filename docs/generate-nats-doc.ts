import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import * as messages from '../events/command-messages.ts';
import { StoredEventSchema } from '../events/envelope.ts';
import { commandSubject, INIT_COMMAND_SUBJECT } from '../events/subjects.ts';

// Rewrites the generated regions of docs/nats.md from the zod schemas, so the document follows
// the code: `npm run docs:nats`. tests/docs.nats.test.ts fails when the file is out of date.

/** The document this script maintains. */
export const NATS_DOC = fileURLToPath(new URL('./nats.md', import.meta.url));
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

/** The table of run commands: subject, what it becomes in the log. */
function commandTable(): string {
  const rows = messages.COMMAND_VERBS.map((verb) => {
    // The event type only depends on the verb; the payload's fields do not matter here.
    const event = messages.toRunCommand(verb, {})?.type;
    return `| \`${commandSubject('RUN', verb).replace('RUN', '<runId>')}\` | [${verb}](#request-${verb}) | ${event === undefined ? 'nothing (answered by the worker)' : `\`${event}\``} |`;
  });
  return [
    '| Subject | Request | Appends to the run\'s log |',
    '| --- | --- | --- |',
    `| \`${INIT_COMMAND_SUBJECT}\` | [init](#request-init) | a new run (\`RUN.CREATED\`) |`,
    ...rows,
  ].join('\n');
}

/** Every request and reply schema `events/command-messages.ts` exports, by export name. */
function schemaSections(): string {
  const out: string[] = [];
  // Sorted by code point: Node lists a module's exports sorted, vitest in source order.
  const exports = Object.entries(messages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of exports) {
    if (isSchemaRecord(value)) {
      for (const [key, schema] of Object.entries(value)) {
        out.push(`<a id="request-${key}"></a>\n#### \`${key}\` (\`${name}.${key}\`)\n\n${jsonSchema(schema)}`);
      }
    } else if (isSchema(value)) {
      const anchor = name === 'InitPayloadSchema' ? '<a id="request-init"></a>\n' : '';
      out.push(`${anchor}#### \`${name}\`\n\n${jsonSchema(value)}`);
    }
  }
  return out.join('\n\n');
}

/** One element of a stream message's array (the stored event without `position`, which is the message's stream sequence). */
function envelopeSection(): string {
  return `<details><summary>JSON Schema of one event (<code>StoredEventSchema</code> without <code>position</code>)</summary>\n\n${jsonSchema(StoredEventSchema.omit({ position: true }))}\n\n</details>`;
}

const REGIONS: Record<string, () => string> = { commands: commandTable, schemas: schemaSections, envelope: envelopeSection };

/** `text` with every generated region rewritten; throws when a region's markers are missing. */
export function renderNatsDoc(text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(REGIONS)) {
    const from = out.indexOf(begin(name));
    const to = out.indexOf(end(name));
    if (from < 0 || to < from) throw new Error(`docs/nats.md: markers of the generated region "${name}" are missing (${begin(name)} … ${end(name)})`);
    out = `${out.slice(0, from + begin(name).length)}\n${render()}\n${out.slice(to)}`;
  }
  return out;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const current = readFileSync(NATS_DOC, 'utf8');
  const next = renderNatsDoc(current);
  if (next !== current) writeFileSync(NATS_DOC, next);
  process.stdout.write(`${next === current ? 'up to date' : 'rewrote'}: ${path.relative(process.cwd(), NATS_DOC)}\n`);
}
