import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../campaign/campaign.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { RunStore } from '../host/run-store.ts';
import { DelegatingEventLog } from '../storage/delegating-event-log.ts';
import type { StoredEvent } from '../events/envelope.ts';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import type { ChangeRecord } from '../storage/sqlite-rows.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { dumpProjections, rebuiltProjections } from './harness/projection-dump.ts';
import { verifyAndClose } from './harness/verify-and-close.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

/** Three workflows, each depending on the previous ones' tasks, with a tolerated failure in each. */
const threeWorkflows: Campaign = {
  plan: (state) => {
    const iteration = state === null ? 0 : (state as { iteration: number }).iteration;
    if (iteration >= 3) return null;
    const previous = iteration === 0 ? [] : [`w${iteration - 1}_ok`];
    return {
      tasks: [
        { id: `w${iteration}_ok`, command: 'echo ok > out.txt', dependencies: previous },
        { id: `w${iteration}_bad`, command: 'exit 2', allowFailure: true, dependencies: previous },
        { id: `w${iteration}_after`, command: 'true', dependencies: [`w${iteration}_ok`] },
      ],
    };
  },
  analyze: (state) => ({ iteration: state === null ? 1 : (state as { iteration: number }).iteration + 1 }),
};

/** Counts the records read back through the log's global feeds (what a projection catch-up reads). */
class ReadCountingLog extends DelegatingEventLog {
  readBack = 0;
  constructor(inner: EventLog) {
    super(inner);
    const feed = this.readAllChanges;
    if (feed === undefined) return;
    const counted = async function* (this: ReadCountingLog, afterPosition?: number): AsyncIterable<readonly ChangeRecord[]> {
      for await (const page of feed(afterPosition)) {
        this.readBack += page.length;
        yield page;
      }
    };
    Object.defineProperty(this, 'readAllChanges', { value: counted.bind(this) });
  }
  override async *readAll(afterPosition?: number): AsyncIterable<StoredEvent> {
    for await (const event of super.readAll(afterPosition)) {
      this.readBack += 1;
      yield event;
    }
  }
}

async function lastPosition(log: EventLog): Promise<number> {
  let last: StoredEvent | undefined;
  for await (const event of log.readAll()) last = event;
  return last?.position ?? 0;
}

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(() => server?.stop());

describe('projections fed from the host’s own records (positions from the appends, new workflows as planned)', () => {
  for (const kind of ['sqlite', 'jetstream'] as const) {
    it(`${kind}: after a three-workflow run with real processes they equal a rebuild, at the log's last position`, async () => {
      const temp: TempRoot = tempRoot();
      temp.workspace('ws', 'export function plan() { return null; }\nexport function analyze() { return null; }\n');
      const { user, pass } = server.users.orchestrator;
      const inner =
        kind === 'jetstream'
          ? await JetStreamEventLog.connect({ servers: server.url, user, pass })
          : SqliteEventLog.open(path.join(temp.root, 'events.sqlite'));
      const log = new ReadCountingLog(inner);
      const store = await RunStore.open({ root: temp.root, log, ...(kind === 'jetstream' ? { natsUrl: server.url } : {}) });
      const runId = `proj_${kind}`;
      try {
        const run = await initializeRun({ store, workspace: 'ws', runId, campaign: threeWorkflows });
        try {
          expect(await runUntilCompletion(run, { campaign: threeWorkflows })).toBe('COMPLETED');
          // Every record, from RUN.CREATED on, was folded as the host appended it: no catch-up found anything to read.
          expect(log.readBack).toBe(0);
          const { projector } = store;
          expect(projector.position()).toBe(await lastPosition(log));
          expect(projector.lastSeq(runId)).toBe(await log.lastSeq(runId));
          expect(dumpProjections(projector.db)).toEqual(await rebuiltProjections(log));
        } finally {
          await verifyAndClose(run);
        }
      } finally {
        await store.close();
        await log.close();
        temp.cleanup();
      }
    });

    it(`${kind}: two runs driven at once on one log (their records interleaved) still equal a rebuild`, async () => {
      const temp: TempRoot = tempRoot();
      temp.workspace('ws', 'export function plan() { return null; }\nexport function analyze() { return null; }\n');
      const { user, pass } = server.users.orchestrator;
      const store = await RunStore.open({ root: temp.root, ...(kind === 'jetstream' ? { natsUrl: server.url, natsUser: user, natsPass: pass } : {}) });
      try {
        const runs = await Promise.all(['one', 'two'].map((name) => initializeRun({ store, workspace: 'ws', runId: `both_${kind}_${name}`, campaign: threeWorkflows })));
        try {
          expect(await Promise.all(runs.map((run) => runUntilCompletion(run, { campaign: threeWorkflows })))).toEqual(['COMPLETED', 'COMPLETED']);
          await store.project();
          expect(store.projector.position()).toBe(await lastPosition(store.log));
          expect(dumpProjections(store.projector.db)).toEqual(await rebuiltProjections(store.log));
        } finally {
          for (const run of runs) await verifyAndClose(run);
        }
      } finally {
        await store.close();
        temp.cleanup();
      }
    });
  }
});
