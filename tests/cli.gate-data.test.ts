import { userInfo } from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';
import { tempRoot } from './harness/workspace.ts';

// Embedded commands record the OS account as their principal: views say both in words; analyze,
// --json and the evidence keep the claim (`by`) and the principal apart.
const ME = userInfo().username;
const ALICE = `alice (as ${ME})`;

// Gate decisions carry data (approve/reject --comment, --data, --data-file), a gate's inputSchema
// refuses data that does not match, and the campaign state is visible whole (status --state / --json),
// all through the real binary on the embedded log.
const temp = tempRoot('ms-cli-gate-data-');
afterAll(() => temp.cleanup());

const INPUT_SCHEMA = {
  type: 'object',
  properties: { batch: { type: 'string', minLength: 2 }, samples: { type: 'integer', minimum: 1 }, notes: { type: 'string' } },
  required: ['batch', 'samples'],
  additionalProperties: false,
};
// analyze keeps what it received for the gate, plus a large nested value (no view may cut it).
temp.workspace(
  'lab',
  `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [
    { id: 'gate', kind: 'gate', message: 'which batch?', inputSchema: ${JSON.stringify(INPUT_SCHEMA)} },
    { id: 'work', command: 'true', dependencies: ['gate'] },
  ] };
}
export function analyze(state, results) {
  const big = { level1: { level2: { level3: Array.from({ length: 5 }, (_, i) => ({ i, text: 'z'.repeat(300) })) } } };
  return { received: results.gate, big };
}
`,
);
temp.workspace(
  'badschema',
  `
export function plan(state) {
  return state === null ? { tasks: [{ id: 'gate', kind: 'gate', inputSchema: { type: 'object', properties: { batch: { type: 'strin' } } } }] } : null;
}
export function analyze() { return {}; }
`,
);
temp.workspace(
  'computeschema',
  `
export function plan(state) {
  return state === null ? { tasks: [{ id: 'work', command: 'true', inputSchema: { type: 'object' } }] } : null;
}
export function analyze() { return {}; }
`,
);

const cli = (args: string[]) => runCli(args, { root: temp.root });
const DATA = { batch: 'B7', samples: 12, notes: 'y'.repeat(400) };

interface Attempt {
  attemptId: string;
  decision: { verb: string; by?: string; principal?: string; comment?: string; data?: unknown } | null;
  results: { data: unknown } | null;
}

// Each test runs ~20 CLI processes: on a loaded machine that can take longer than the default minute.
describe.concurrent('gate decisions with data (embedded log, CLI binary)', { timeout: 240_000 }, () => {
  it('refuses data that does not match the inputSchema naming the field, and nothing changes', async () => {
    expect((await cli(['init', 'lab', '--run-id', 'bad'])).code).toBe(0);
    expect((await cli(['step', 'bad'])).code).toBe(0);
    const before = (await cli(['replay', 'bad', '--json'])).json<unknown[]>().length;

    const wrongType = await cli(['approve', 'bad', 'gate', '--by', 'alice', '--data', '{"batch": 7, "samples": 3}']);
    expect(wrongType.code).toBe(4);
    expect(wrongType.stderr).toMatch(/^error: approve rejected for run bad: data\.batch: .*string.* \(inputSchema of gate gate\) \[GATE_DATA_INVALID\]\n$/);
    const extra = await cli(['approve', 'bad', 'gate', '--data', '{"batch": "B7", "samples": 3, "colour": "red"}']);
    expect(extra.stderr).toContain('data.colour');
    const missing = await cli(['approve', 'bad', 'gate', '--comment', 'no data']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(': data: missing');

    // Nothing changed: the gate still waits, has no decision, and takes a valid approve next.
    const status = (await cli(['status', 'bad', '--json'])).json<{ tasks: { id: string; status: string }[] }>();
    expect(status.tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');
    const [attempt] = (await cli(['attempts', 'bad', 'gate', '--json'])).json<(Attempt & { dir: string })[]>();
    expect(attempt?.decision).toBeNull();
    // The person answering is told which data the gate takes.
    expect(fs.readFileSync(path.join(attempt!.dir, 'instructions.md'), 'utf8')).toContain(`matching this JSON Schema:\n\n\`\`\`json\n${JSON.stringify(INPUT_SCHEMA, null, 2)}`);
    const timeline = (await cli(['replay', 'bad', '--json'])).json<{ type: string; changes: string[] }[]>();
    // The three refusals are recorded (as every refused command is), and nothing else was appended.
    expect(timeline.length).toBe(before + 3);
    expect(timeline.slice(before).map((e) => e.changes)).toEqual([
      [expect.stringMatching(/^command approve gate by alice \(as [^)]+\) rejected GATE_DATA_INVALID: data\.batch: /)],
      [expect.stringMatching(/rejected GATE_DATA_INVALID: data\.colour: /)],
      [expect.stringMatching(/rejected GATE_DATA_INVALID: data: missing/)],
    ]);
    const ok = await cli(['approve', 'bad', 'gate', '--data', '{"batch": "B7", "samples": 3}']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await cli(['replay', 'bad', '--verify'])).code).toBe(0);
  });

  it('bad --data / --data-file are usage errors naming the option, before anything is sent', async () => {
    const json = await cli(['approve', 'bad', 'gate', '--data', '{batch: B7}']);
    expect(json.code).toBe(2);
    expect(json.stderr).toMatch(/^error: --data: not valid JSON/);
    const file = await cli(['approve', 'bad', 'gate', '--data-file', path.join(temp.root, 'nope.json')]);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(`--data-file ${path.join(temp.root, 'nope.json')}: cannot be read (ENOENT)`);
    const both = await cli(['reject', 'bad', 'gate', '--data', '1', '--data-file', 'x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--data or --data-file, not both');
  });

  it('approve --comment --data-file: kept in the log, shown by replay, attempts, explain, evidence; analyze receives it', async () => {
    expect((await cli(['init', 'lab', '--run-id', 'g1'])).code).toBe(0);
    expect((await cli(['step', 'g1'])).code).toBe(0);
    const dataFile = path.join(temp.root, 'data.json');
    fs.writeFileSync(dataFile, JSON.stringify(DATA));
    const approve = await cli(['approve', 'g1', 'gate', '--by', 'alice', '--comment', 'looks right', '--data-file', dataFile]);
    expect(approve.code, approve.stderr).toBe(0);

    // explain before the host acted, then after the run completed.
    const pending = await cli(['explain', 'g1']);
    expect(pending.stdout).toContain(`gate (gate-a1): approved by ${ALICE} — comment: looks right; data: {"batch":"B7"`);
    expect(pending.stdout).toContain('explain g1 --json');
    expect((await cli(['loop', 'g1'])).code).toBe(0);

    const decision = { verb: 'approved', by: 'alice', principal: ME, comment: 'looks right', data: DATA };
    // analyze received the data as results.gate.data and the decision beside it; the state shows it whole.
    const status = await cli(['status', 'g1', '--json']);
    expect(status.stdout).not.toContain('…');
    const view = status.json<{ status: string; campaignState: { iteration: number; state: { received: unknown; big: unknown } } }>();
    expect(view.status).toBe('COMPLETED');
    expect(view.campaignState.state.received).toEqual({
      status: 'COMPLETED',
      files: {},
      data: DATA,
      decision: { verb: 'approved', by: 'alice', principal: ME, comment: 'looks right' },
    });
    const state = await cli(['status', 'g1', '--state']);
    expect(JSON.parse(state.stdout)).toEqual(view.campaignState.state);
    expect(state.stdout).toContain('z'.repeat(300));
    const human = await cli(['status', 'g1']);
    expect(human.stdout).toMatch(/^state {6}\{"received".*… \(iteration 1\); whole: matterstack status g1 --state$/m);

    const replay = await cli(['replay', 'g1', '--json']);
    expect(replay.stdout).not.toContain('…');
    const timeline = replay.json<{ actor: string; type: string; changes: string[] }[]>();
    const decided = timeline.find((e) => e.actor === 'gate-a1' && e.type === 'ATTEMPT.APPROVE');
    expect(decided?.changes).toContain(`attempt gate-a1 approved by ${ALICE}, comment "looks right", data ${JSON.stringify(DATA)}`);
    expect(timeline.some((e) => e.changes.some((c) => c.includes('z'.repeat(300))))).toBe(true);
    const replayText = (await cli(['replay', 'g1'])).stdout;
    expect(replayText).toContain(`attempt gate-a1 approved by ${ALICE}, comment "looks right", data {"batch":"B7"`);
    expect(replayText.trimEnd().split('\n').at(-1)).toBe('(long values are folded with "…": `matterstack replay g1 --json` shows them whole)');

    const attempts = await cli(['attempts', 'g1', 'gate', '--json']);
    expect(attempts.json<Attempt[]>()[0]).toMatchObject({ decision, results: { data: DATA } });
    expect((await cli(['attempts', 'g1', 'gate'])).stdout).toContain(`gate-a1  approved by ${ALICE}; comment: looks right; data: ${JSON.stringify(DATA)}`);
    expect((await cli(['explain', 'g1', '--json'])).json<{ decisions: unknown[] }>().decisions).toEqual([{ taskId: 'gate', attemptId: 'gate-a1', ...decision }]);

    const exported = (await cli(['export-evidence', 'g1', '--json'])).json<{ bundlePath: string; reportPath: string }>();
    const bundleText = fs.readFileSync(exported.bundlePath, 'utf8');
    expect(bundleText).not.toContain('…');
    const bundle = JSON.parse(bundleText) as { attempts: Attempt[]; campaignStates: { state: unknown }[] };
    expect(bundle.attempts.find((a) => a.attemptId === 'gate-a1')?.decision).toEqual(decision);
    expect(bundle.campaignStates.at(-1)?.state).toEqual(view.campaignState.state);
    const report = fs.readFileSync(exported.reportPath, 'utf8');
    expect(report).toContain('## Gate decisions');
    expect(report).toMatch(/\| gate-a1 \| gate \| approved \| alice \(as [^)]+\) \| looks right \| \{"batch":"B7".*… \|/);
    expect(report).toContain('whole in bundle.json');
  });

  it('reject --data reaches analyze too (a gate allowed to fail), and status --state is null before the first analyze', async () => {
    temp.workspace(
      'soft',
      `
export function plan(state) { return state === null ? { tasks: [{ id: 'gate', kind: 'gate', allowFailure: true }] } : null; }
export function analyze(state, results) { return { received: results.gate }; }
`,
    );
    expect((await cli(['init', 'soft', '--run-id', 's1'])).code).toBe(0);
    expect((await cli(['status', 's1', '--state'])).stdout).toBe('null\n');
    expect((await cli(['status', 's1', '--json'])).json<{ campaignState: unknown }>().campaignState).toMatchObject({ iteration: 0, state: null });
    expect((await cli(['step', 's1'])).code).toBe(0);
    expect((await cli(['reject', 's1', 'gate', '--by', 'bob', '--comment', 'contaminated', '--data', '{"lot": [1, 2]}'])).code).toBe(0);
    expect((await cli(['loop', 's1'])).code).toBe(0);
    const state = JSON.parse((await cli(['status', 's1', '--state'])).stdout) as { received: unknown };
    expect(state.received).toEqual({ status: 'FAILED', files: {}, data: { lot: [1, 2] }, decision: { verb: 'rejected', by: 'bob', principal: ME, comment: 'contaminated' } });
  });

  it('an unusable inputSchema, or one on a compute task, rejects the workflow when planned', async () => {
    const bad = await cli(['init', 'badschema', '--run-id', 'b1']);
    expect(bad.code).toBe(6);
    expect(bad.stderr).toContain('task gate, field inputSchema: not a usable JSON Schema: inputSchema.properties.batch.type: must be one of');
    const compute = await cli(['init', 'computeschema', '--run-id', 'c1']);
    expect(compute.code).toBe(6);
    expect(compute.stderr).toContain('task work, field inputSchema: only gate tasks take an inputSchema');
  });
});
