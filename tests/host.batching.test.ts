import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BATCH_RECORDS, RunHost, type EffectHandler } from '../host/run-host.ts';
import type { ValidNewEvent } from '../events/envelope.ts';
import type { AppendResult } from '../events/event-log.ts';
import { parseRunEvent } from '../events/run-events.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import type { PendingEffect } from '../machines/pending-effects.ts';
import { DelegatingEventLog } from '../storage/delegating-event-log.ts';

/** Records every append (its records and the last durable sequence) around the real log. */
class RecordingLog extends DelegatingEventLog {
  durableSeq = 0;
  readonly batches: { actor: string; type: string; seq: number }[][] = [];
  override async append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    const result = await this.inner.append(runId, events, expectedSeq);
    this.batches.push(events.map((e, i) => ({ actor: e.actor, type: e.type, seq: expectedSeq + 1 + i })));
    this.durableSeq = result.lastSeq;
    return result;
  }
}

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('optimisation: host batching: capped appends, RUN.STEP in the same append, write-ahead kept', () => {
  it('starts every effect only after the record that asked for it is durable', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-batching-'));
    const log = new RecordingLog(SqliteEventLog.open(path.join(dir, 'events.sqlite')));
    const n = MAX_BATCH_RECORDS + 500;
    const started: { effect: PendingEffect['effect']; durableSeq: number }[] = [];
    const effects: EffectHandler = {
      async run(_host, pending) {
        started.push({ effect: pending.effect, durableSeq: log.durableSeq });
      },
    };
    const host = RunHost.create(log, 'b1', { effects, autoStep: true });
    await host.deliver([
      {
        actor: 'run',
        event: parseRunEvent({ type: 'RUN.CREATED', workspace: 'ws', maxConcurrent: null, configuredOperators: ['local.default'] }),
      },
      {
        actor: 'run',
        event: parseRunEvent({
          type: 'CAMPAIGN.PLANNED',
          iteration: 0,
          state: null,
          workflow: { tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, command: 'true' })) },
        }),
      },
    ]);
    // autoStep: the batch that adopted the plan ends with a RUN.STEP, which dispatches n attempts;
    // the step and the ATTEMPT.CREATED it routes are in one atomic append (past the cap).
    await host.settle();
    const dispatch = log.batches.find((batch) => batch.some((r) => r.type === 'RUN.STEP')) ?? [];
    // (The first append of a host starts with its HOST.VERSION record.)
    expect(dispatch.map((r) => r.type).slice(0, 4)).toEqual(['HOST.VERSION', 'RUN.CREATED', 'CAMPAIGN.PLANNED', 'RUN.STEP']);
    expect(dispatch.filter((r) => r.type === 'ATTEMPT.CREATED')).toHaveLength(n);

    // n submissions = 2n records (attempt + run report): cut into appends of about MAX_BATCH_RECORDS.
    const before = log.batches.length;
    await host.deliver(Array.from({ length: n }, (_, i) => ({ actor: `t${i}-a1`, event: { type: 'ATTEMPT.SUBMITTED' as const, externalId: `x${i}`, status: 'SUBMITTED' as const } })));
    await host.settle();
    const submissions = log.batches.slice(before);
    expect(submissions.length).toBeGreaterThan(1);
    for (const batch of submissions) expect(batch.length).toBeLessThanOrEqual(MAX_BATCH_RECORDS + 1);
    // Only the drain's last batch carries the RUN.STEP reacting to it (noop steps append nothing).
    expect(submissions.flat().filter((r) => r.type === 'RUN.STEP').length).toBeLessThanOrEqual(1);

    // Write-ahead: each effect started once the record of its attempt's transition was durable.
    const seqOf = new Map<string, number>();
    for (const record of log.batches.flat()) seqOf.set(`${record.actor}:${record.type}`, record.seq);
    const starts = started.filter((s) => s.effect.type === 'attempt.start');
    const watches = started.filter((s) => s.effect.type === 'attempt.watch');
    expect(starts).toHaveLength(n);
    expect(watches).toHaveLength(n);
    for (const s of starts) {
      const id = (s.effect as { attemptId: string }).attemptId;
      expect(s.durableSeq).toBeGreaterThanOrEqual(seqOf.get(`${id}:ATTEMPT.CREATED`) ?? Infinity);
    }
    for (const s of watches) {
      const id = (s.effect as { attemptId: string }).attemptId;
      expect(s.durableSeq).toBeGreaterThanOrEqual(seqOf.get(`${id}:ATTEMPT.SUBMITTED`) ?? Infinity);
    }
    await log.close();
  }, 60_000);
});
