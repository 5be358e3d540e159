import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

const MARKER = 'results-marker-7f3a9c';
/** Writes a results.json holding MARKER, which the command's own text (logged with the task) does not contain. */
const WRITE_MARKER = `printf '{"note": "%s-%s"}' results-marker 7f3a9c > results.json`;
/** A valid JSON object of about 2 MB. */
const TWO_MB = `{ printf '{"pad":"'; head -c 2000000 /dev/zero | tr '\\0' a; printf '"}'; } > results.json`;

interface TaskJson {
  id: string;
  status: string;
  statusReason: string | null;
}

async function runToEnd(root: string, slug: string, runId: string): Promise<{ tasks: Map<string, TaskJson>; explain: string; status: string }> {
  expect((await runCli(['init', slug, '--run-id', runId, '--json'], { root })).code).toBe(0);
  await runCli(['loop', runId], { root });
  const status = await runCli(['status', runId], { root });
  const json = (await runCli(['status', runId, '--json'], { root })).json<{ tasks: TaskJson[] }>();
  const explain = await runCli(['explain', runId], { root });
  expect(explain.code).toBe(0);
  return { tasks: new Map(json.tasks.map((t) => [t.id, t])), explain: explain.stdout, status: status.stdout };
}

describe('results.json a task leaves: taken only when it is a JSON object in a regular file inside the attempt, within the limit', () => {
  it('each bad results.json fails its attempt with the reason, shown by status and explain; a FIFO does not block', async () => {
    const temp = tempRoot('ms-results-');
    roots.push(temp);
    const outside = path.join(temp.root, 'outside.json');
    fs.writeFileSync(outside, '{"secret": "outside-the-attempt"}\n');
    temp.workspace(
      'lab',
      oneWorkflowCampaign([
        { id: 'badjson', command: `printf '{oops' > results.json` },
        { id: 'array', command: `echo '[1, 2]' > results.json` },
        { id: 'number', command: 'echo 42 > results.json' },
        { id: 'big', command: TWO_MB },
        { id: 'passwd', command: 'ln -s /etc/passwd results.json' },
        { id: 'linkout', command: `ln -s ${outside} results.json` },
        { id: 'fifo', command: 'mkfifo results.json' },
        { id: 'linkin', command: `echo '{"inside": true}' > real.json && ln -s real.json results.json` },
        { id: 'good', command: WRITE_MARKER },
      ]),
    );
    const { tasks, explain, status } = await runToEnd(temp.root, 'lab', 'r1');

    const expected: Record<string, string> = {
      badjson: 'results.json is not valid JSON',
      array: 'results.json must hold a JSON object, not an array',
      number: 'results.json must hold a JSON object, not a number',
      big: 'over the limit of 1000000 bytes',
      passwd: 'results.json is a symbolic link leading out of the attempt folder',
      linkout: 'results.json is a symbolic link leading out of the attempt folder',
      fifo: 'results.json is not a regular file (a FIFO)',
    };
    for (const [id, reason] of Object.entries(expected)) {
      expect(tasks.get(id), id).toMatchObject({ status: 'FAILED' });
      expect(tasks.get(id)?.statusReason, id).toContain(reason);
      expect(explain, id).toContain(reason);
      expect(status, id).toContain(reason.slice(0, 30));
    }
    expect(tasks.get('linkin')?.status).toBe('COMPLETED');
    expect(tasks.get('good')?.status).toBe('COMPLETED');
    expect((await runCli(['replay', 'r1', '--verify'], { root: temp.root })).code).toBe(0);
  });

  it('a raised defaults.max_results_bytes takes a 2 MB results.json', async () => {
    const temp = tempRoot('ms-results-limit-');
    roots.push(temp);
    temp.workspace('lab', oneWorkflowCampaign([{ id: 'big', command: TWO_MB }]), 'defaults:\n  max_results_bytes: 3000000\noperators: {}\n');
    const { tasks } = await runToEnd(temp.root, 'lab', 'r2');
    expect(tasks.get('big')).toMatchObject({ status: 'COMPLETED', statusReason: null });
  });

  it("a completed task's results.json that breaks its resultsSchema fails the attempt naming the field; a matching one completes; a failed attempt's data is not checked", async () => {
    const temp = tempRoot('ms-results-schema-');
    roots.push(temp);
    const resultsSchema = { type: 'object', properties: { energy: { type: 'number', minimum: 0 } }, required: ['energy'] };
    temp.workspace(
      'lab',
      oneWorkflowCampaign([
        { id: 'negative', command: `echo '{"energy": -1}' > results.json`, resultsSchema, allowFailure: true },
        { id: 'missing', command: 'true', resultsSchema, allowFailure: true },
        { id: 'good', command: `echo '{"energy": 2.5}' > results.json`, resultsSchema },
        { id: 'crashed', command: `echo '{"error": "diverged"}' > results.json; exit 3`, resultsSchema, allowFailure: true },
      ]),
    );
    const { tasks, explain } = await runToEnd(temp.root, 'lab', 'r-schema');
    expect(tasks.get('negative')).toMatchObject({ status: 'FAILED' });
    expect(tasks.get('negative')?.statusReason).toContain('data.energy: Too small: expected number to be >=0 (resultsSchema)');
    expect(explain).toContain('(resultsSchema)');
    expect(tasks.get('missing')?.statusReason).toContain('no data (results.json, response): the task declares a resultsSchema');
    expect(tasks.get('good')?.status).toBe('COMPLETED');
    expect(tasks.get('crashed')).toMatchObject({ status: 'FAILED' });
    expect(tasks.get('crashed')?.statusReason).toContain('exit code 3');
    const crashed = (await runCli(['attempts', 'r-schema', 'crashed', '--json'], { root: temp.root })).stdout;
    expect(crashed).toContain('diverged');
    expect((await runCli(['replay', 'r-schema', '--verify'], { root: temp.root })).code).toBe(0);
  });

  it('a resultsSchema on a gate, or one that is not a usable JSON Schema, is an invalid workflow', async () => {
    const temp = tempRoot('ms-results-schema-bad-');
    roots.push(temp);
    temp.workspace('gate', oneWorkflowCampaign([{ id: 'review', kind: 'gate', resultsSchema: { type: 'object' } }]));
    temp.workspace('unusable', oneWorkflowCampaign([{ id: 'work', command: 'true', resultsSchema: { type: 'matrix' } }]));
    const gate = await runCli(['init', 'gate'], { root: temp.root });
    expect(gate.code).not.toBe(0);
    expect(gate.stderr).toContain("task review, field resultsSchema: a gate's data is its approval's: declare it with inputSchema");
    const unusable = await runCli(['init', 'unusable'], { root: temp.root });
    expect(unusable.code).not.toBe(0);
    expect(unusable.stderr).toContain('task work, field resultsSchema: not a usable JSON Schema: resultsSchema.type: must be one of');
  });

  it('a record keeps the results once', async () => {
    const temp = tempRoot('ms-results-once-');
    roots.push(temp);
    temp.workspace('lab', oneWorkflowCampaign([{ id: 'good', command: WRITE_MARKER }]));
    const { tasks } = await runToEnd(temp.root, 'lab', 'r3');
    expect(tasks.get('good')?.status).toBe('COMPLETED');
    const db = new Database(path.join(temp.root, '.matterstack', 'events.sqlite'), { readonly: true });
    const rows = db.prepare(`SELECT type, payload || coalesce(from_state, '') || coalesce(to_state, '') || changes AS stored FROM events WHERE run_id = 'r3'`).all() as { type: string; stored: string }[];
    db.close();
    const holding = rows.filter((row) => row.stored.includes(MARKER));
    // The report that ended the attempt carries its results (one record).
    expect(holding.map((row) => row.type)).toEqual(['OPERATOR.REPORTED']);
    expect(holding[0]!.stored.split(MARKER).length - 1).toBe(1);
    // The data still reaches the projections, replay and the evidence bundle.
    const attempts = (await runCli(['attempts', 'r3', 'good', '--json'], { root: temp.root })).stdout;
    expect(attempts).toContain(MARKER);
    expect((await runCli(['replay', 'r3', '--verify'], { root: temp.root })).code).toBe(0);
    expect((await runCli(['replay', 'r3'], { root: temp.root })).stdout).toContain(MARKER);
    const exported = (await runCli(['export-evidence', 'r3', '--json'], { root: temp.root })).json<{ bundlePath: string }>();
    expect(fs.readFileSync(exported.bundlePath, 'utf8')).toContain(MARKER);

    // A record stored without the reference (the results in the payload too, as before results were stored once) still loads, verifies and rebuilds.
    const writable = new Database(path.join(temp.root, '.matterstack', 'events.sqlite'));
    const stored = writable.prepare(`SELECT seq, payload, changes FROM events WHERE run_id = 'r3' AND type = 'OPERATOR.REPORTED' AND changes LIKE '%attempt.results%'`).get() as { seq: number; payload: string; changes: string };
    const change = (JSON.parse(stored.changes) as { kind: string; files: unknown; data: unknown }[]).find((c) => c.kind === 'attempt.results')!;
    const payload = JSON.parse(stored.payload) as { status: string };
    writable
      .prepare(`UPDATE events SET payload = ? WHERE run_id = 'r3' AND seq = ?`)
      .run(JSON.stringify({ ...payload, results: { type: 'ATTEMPT.RESULTS', files: change.files, data: change.data } }), stored.seq);
    writable.close();
    expect((await runCli(['replay', 'r3', '--verify'], { root: temp.root })).code).toBe(0);
    expect((await runCli(['projections', 'rebuild'], { root: temp.root })).code).toBe(0);
    expect((await runCli(['attempts', 'r3', 'good', '--json'], { root: temp.root })).stdout).toContain(MARKER);
  });
});
