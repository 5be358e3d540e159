import fs from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serveCommands, type CommandService } from '../distributed/command-service.ts';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { COMMAND_PAYLOADS, COMMAND_VERBS, CommandReplySchema, InitPayloadSchema, isCommandVerb, toRunCommand, type CommandReplyMessage } from '../events/command-messages.ts';
import { isValidId } from '../events/ids.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { FUZZ_RUNS, maybeId, nastyNumber, nastyString, nastyValue, slowRuns } from './harness/fuzz.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

/*
 * Fuzz: NATS command payloads. Every request on `ms.cmd.>` gets a well-formed reply; only a
 * payload its verb's schema accepts reaches the worker; and against a real worker hosting a
 * run, a payload refused as invalid appends nothing to the run's log.
 */

let server: NatsServerHandle;
let service: NatsConnection;
let scientist: NatsConnection;
let commands: CommandService;
/** What reached the handler (the validated side of the boundary). */
const reached: { runId: string; verb: string; payload: Record<string, unknown> }[] = [];
const inits: unknown[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  service = await connect({ servers: server.url, ...server.users.orchestrator });
  scientist = await connect({ servers: server.url, ...server.users.scientist });
  commands = serveCommands(service, {
    workerId: 'fuzz',
    handler: {
      async command(runId, verb, payload) {
        reached.push({ runId, verb, payload });
        return { accepted: true, seq: 1 };
      },
      async init(payload) {
        inits.push(payload);
        return { accepted: true, seq: 1, runId: payload.runId ?? 'generated' };
      },
    },
  });
});
afterAll(async () => {
  await commands?.stop();
  await scientist?.close();
  await service?.close();
  await server?.stop();
});

/** A subject token NATS can carry (no whitespace, dot or wildcard), valid as an id or not. */
const subjectToken = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) },
  fc.constantFrom('__proto__', 'constructor', 'toString', 'x'.repeat(65), 'a/b', '%2f', 'é', '🧪', '$', '%00'),
  fc.string({ minLength: 1, maxLength: 70, unit: 'binary' }).filter((s) => /^[^\u0000-\u0020\u007f.*>]+$/u.test(s)),
);
const verb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...COMMAND_VERBS) }, fc.constantFrom('init', 'explode', 'PAUSE', 'hasOwnProperty', '__proto__'), subjectToken);

/** A payload close to a valid one: the right keys with hostile values, some extra keys. */
const nearValid = fc
  .record(
    {
      taskId: maybeId,
      attemptId: maybeId,
      by: nastyString,
      commandId: nastyString,
      comment: fc.oneof(nastyString, fc.constant('c'.repeat(10_001))),
      recursive: fc.oneof(fc.boolean(), nastyValue),
      workspace: fc.oneof(fc.constantFrom('lab', '../etc', 'a//b', '/abs', 'lab/'), nastyString),
      runId: maybeId,
      maxConcurrent: fc.oneof(nastyNumber.map((n) => (Number.isFinite(n) ? n : String(n))), fc.constant(null)),
      __proto__: nastyValue,
      constructor: nastyValue,
      extra: nastyValue,
    },
    { requiredKeys: [] },
  )
  .map((payload) => JSON.stringify(payload));

/** A payload some verb accepts (which one depends on the keys drawn). */
const plausible = fc
  .record(
    {
      taskId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
      attemptId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
      by: fc.string({ minLength: 1, maxLength: 128 }),
      commandId: fc.string({ minLength: 1, maxLength: 128 }),
      comment: fc.string({ maxLength: 50 }),
      recursive: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .map((payload) => JSON.stringify(payload));

/** The request body: valid-looking, near-valid JSON, any JSON, deep JSON, or not JSON at all. */
const body = fc.oneof(
  { weight: 3, arbitrary: plausible },
  nearValid,
  nastyValue.map((v) => JSON.stringify(v) ?? ''),
  fc.integer({ min: 100, max: 5000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 100, max: 5000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  nastyString.filter((s) => s.length < 100_000),
);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

async function ask(subject: string, data: string): Promise<CommandReplyMessage> {
  const answer = await scientist.request(subject, data, { timeout: 10_000 });
  const parsed = CommandReplySchema.safeParse(JSON.parse(answer.string()));
  if (!parsed.success) throw new Error(`malformed reply on ${subject}: ${answer.string()}`);
  return parsed.data;
}

describe('fuzz: NATS command payloads (the command service)', () => {
  it('every request is answered; only a payload its schema accepts reaches the handler, as a well-formed command', async () => {
    let validReached = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(subjectToken, verb, fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, subjectToken), body),
          // A run id, a verb and a payload as a client would send them: the accepted side gets its share.
          fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.constantFrom(...COMMAND_VERBS), fc.constant(undefined), plausible),
        ),
        async ([runId, verbName, extraToken, data]) => {
        const subject = `ms.cmd.${runId}.${verbName}${extraToken === undefined ? '' : `.${extraToken}`}`;
        reached.length = 0;
        const reply = await ask(subject, data);
        const json = parseJson(data);
        const schema = isCommandVerb(verbName) ? COMMAND_PAYLOADS[verbName] : undefined;
        const valid = extraToken === undefined && isValidId(runId) && schema !== undefined && json.ok && schema.safeParse(json.value).success;
        const context = `${subject} ${data.slice(0, 200)} → ${JSON.stringify(reply).slice(0, 300)}`;
        if (!valid) {
          expect(reply, context).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED' } });
          expect(reached, context).toHaveLength(0);
          return;
        }
        expect(reply.accepted, context).toBe(true);
        expect(reached, context).toHaveLength(1);
        validReached += 1;
        const { payload } = reached[0]!;
        expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
        const command = toRunCommand(verbName as (typeof COMMAND_VERBS)[number], payload);
        if (command !== undefined) {
          expect(command.type).toMatch(/^CMD\./);
          for (const value of Object.values(command)) expect(['string', 'boolean']).toContain(typeof value);
        }
      }),
      {
        numRuns: FUZZ_RUNS * 2,
        // Random keys make a strict payload rare: these guarantee the accepted side is always exercised.
        examples: [
          [['run-1', 'pause', undefined, '{}']],
          [['run-1', 'approve', undefined, JSON.stringify({ taskId: 'gate', comment: 'ok', by: 'alice' })]],
          [['run-1', 'rerun', undefined, JSON.stringify({ taskId: 't1', recursive: true })]],
          [['run-1', 'cancel-attempt', undefined, JSON.stringify({ attemptId: 'a1', commandId: 'c-1' })]],
        ],
      },
    );
    // Both sides of the boundary were exercised.
    expect(validReached).toBeGreaterThan(0);
  });

  it('init: only a payload InitPayloadSchema accepts reaches the handler', async () => {
    await fc.assert(
      fc.asyncProperty(body, async (data) => {
        inits.length = 0;
        const reply = await ask('ms.cmd.init', data);
        const json = parseJson(data);
        const valid = json.ok && InitPayloadSchema.safeParse(json.value).success;
        if (!valid) {
          expect(reply, data.slice(0, 200)).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED' } });
          expect(inits).toHaveLength(0);
        } else {
          expect(reply.accepted).toBe(true);
          expect(inits).toHaveLength(1);
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe('fuzz: NATS command payloads against a real worker', () => {
  let worker: WorkerHandle;
  let root: string;
  let log: JetStreamEventLog;

  beforeAll(async () => {
    root = makeWorkspace(GATE_CAMPAIGN, 'ms-fuzz-nats-');
    worker = await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, leaseTtlMs: 3000, operators: { pollIntervalMs: 100 } });
    log = await JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });
    // The fuzzing service above shares the queue group: stop it so the worker answers every command.
    await commands.stop();
    // Its unsubscribe is only queued on its connection: until the server has it, the server may still pick
    // the service for the init below, whose reply then never comes (the hook timed out at 60 s in CI).
    await service.flush();
    expect((await requestInit(scientist, { workspace: 'lab', runId: 'r_fz' })).accepted).toBe(true);
    // Quiet: the run waits on its gate, so whatever the log gains from here on is the commands' doing.
    await vi.waitFor(async () => {
      const reply = await requestCommand(scientist, 'r_fz', 'status');
      const tasks = reply.accepted ? (reply.status?.tasks as { id: string; status: string }[]) : [];
      expect(tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');
    }, { timeout: 15_000 });
  });
  afterAll(async () => {
    await log?.close();
    await worker?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('a refused payload appends nothing; a refused command is recorded as a refusal; the worker keeps answering', async () => {
    await fc.assert(
      // Verbs whose acceptance sets the run moving on its own (resume, cancel, ...) would append in the background.
      fc.asyncProperty(fc.constantFrom('pause', 'rerun', 'cancel-attempt', 'approve', 'reject', 'status'), body, async (verbName, data) => {
        const before = await log.lastSeq('r_fz');
        const reply = await ask(`ms.cmd.r_fz.${verbName}`, data);
        const context = `${verbName} ${data.slice(0, 200)} → ${JSON.stringify(reply).slice(0, 300)}`;
        const after = await log.lastSeq('r_fz');
        if (reply.accepted) return;
        expect(reply.error.code, context).not.toBe('INTERNAL');
        if (reply.error.code === 'VALIDATION_FAILED') {
          expect(after, context).toBe(before);
          return;
        }
        // Refused by the run: only the refusal itself is in the log.
        for await (const record of log.readRun('r_fz', before)) {
          if (record.seq > after) break;
          expect(record.type, context).toMatch(/^CMD\./);
        }
      }),
      { numRuns: slowRuns(50, 8) },
    );
    expect((await requestCommand(scientist, 'r_fz', 'status')).accepted).toBe(true);
  });
});
