import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeRun, sendCommand } from '../host/run-lifecycle.ts';
import { RunStore } from '../host/run-store.ts';
import { runCli, type CliResult } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// `list` filters (--status, --workspace, --since) and its order (latest activity first), through the
// real binary, on the embedded log and on JetStream (a real nats-server; the CLI as the scientist).
interface Listed {
  runId: string;
  workspace: string;
  status: string;
}

interface Seeded {
  /** Runs `matterstack list ...args` against this log. */
  list(args: string[]): Promise<CliResult>;
  /** An instant after a2's creation and before b1's. */
  between: Date;
}

/**
 * Three runs: a1 and a2 in `lab`, then b1 in `group/other`; then a1 is cancelled, so the order of
 * last activity (a1, b1, a2) differs from the order of creation (a1, a2, b1).
 */
async function seed(root: string, open: () => Promise<RunStore>): Promise<Date> {
  fs.mkdirSync(`${root}/group/other`, { recursive: true });
  fs.writeFileSync(`${root}/group/other/campaign.mjs`, GATE_CAMPAIGN);
  const store = await open();
  try {
    const a1 = await initializeRun({ store, workspace: 'lab', runId: 'a1' });
    await initializeRun({ store, workspace: 'lab', runId: 'a2' });
    await pause();
    const between = new Date();
    await pause();
    await initializeRun({ store, workspace: 'group/other', runId: 'b1' });
    await pause();
    expect(await sendCommand(a1, { type: 'CMD.CANCEL' })).toMatchObject({ accepted: true });
    return between;
  } finally {
    await store.close();
  }
}

const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

function ids(result: CliResult): string[] {
  expect(result.code, `${result.stderr}${result.stdout}`).toBe(0);
  return result.json<Listed[]>().map((run) => run.runId);
}

function behavesLikeList(context: () => Seeded): void {
  it('sorts by last activity and filters by status, workspace and since', async () => {
    const { list, between } = context();
    // Independent processes, started together to keep the test short.
    const cases: [string[], string[]][] = [
      [['--json'], ['b1', 'a2']],
      [['--all', '--json'], ['a1', 'b1', 'a2']],
      [['--status', 'CANCELLED', '--json'], ['a1']],
      [['--status', 'pending,CANCELLED', '--json'], ['a1', 'b1', 'a2']],
      [['--all', '--workspace', 'lab', '--json'], ['a1', 'a2']],
      [['--workspace', 'group/other', '--json'], ['b1']],
      [['--all', '--since', '1h', '--json'], ['a1', 'b1', 'a2']],
      [['--all', '--since', between.toISOString(), '--json'], ['a1', 'b1']],
      [['--all', '--since', '2999-01-01', '--json'], []],
    ];
    const [results, table, none] = await Promise.all([
      Promise.all(cases.map(([args]) => list(args))),
      list(['--all']),
      list(['--status', 'FAILED']),
    ]);
    cases.forEach(([args, expected], i) => expect(ids(results[i]!), args.join(' ')).toEqual(expected));
    expect(table.stdout.split('\n').slice(1, 4).map((line) => line.split(/\s+/)[0])).toEqual(['a1', 'b1', 'a2']);
    expect(none.stdout).toBe('no matching runs\n');
  });

  it('rejects bad filter values with a usage error naming the option', async () => {
    const { list } = context();
    const cases: [string[], string][] = [
      [['--status', 'RUNNING,DONE'], '--status'],
      [['--since', '2x'], '--since'],
      [['--since', 'yesterday'], '--since'],
      [['--workspace', '../lab'], '--workspace'],
    ];
    const results = await Promise.all(cases.map(([args]) => list(args)));
    for (const [i, [args, option]] of cases.entries()) {
      const result = results[i]!;
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(option);
      expect(result.stderr.trim().split('\n')[0]).toMatch(/^error: /);
    }
  });
}

describe('list on the embedded log', () => {
  let root: string;
  let seeded: Seeded;
  beforeAll(async () => {
    root = makeWorkspace(GATE_CAMPAIGN, 'ms-list-emb-');
    const between = await seed(root, () => RunStore.open({ root }));
    seeded = { between, list: (args) => runCli(['list', ...args], { root }) };
  }, 30_000);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  behavesLikeList(() => seeded);
});

describe('list on JetStream', () => {
  let server: NatsServerHandle;
  let root: string;
  let seeded: Seeded;
  beforeAll(async () => {
    server = await startNatsServer();
    root = makeWorkspace(GATE_CAMPAIGN, 'ms-list-nats-');
    const { orchestrator, scientist } = server.users;
    const between = await seed(root, () => RunStore.open({ root, natsUrl: server.url, natsUser: orchestrator.user, natsPass: orchestrator.pass }));
    const env = { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: scientist.user, MATTERSTACK_NATS_PASS: scientist.pass };
    seeded = { between, list: (args) => runCli(['list', ...args], { root, env }) };
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  behavesLikeList(() => seeded);
});
