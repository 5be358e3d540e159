import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));
function rootWith(campaign: string, operatorsYaml?: string): TempRoot {
  const temp = tempRoot('ms-opts-');
  roots.push(temp);
  temp.workspace('lab', campaign, operatorsYaml);
  return temp;
}

const GATED = oneWorkflowCampaign([{ id: 'gate', kind: 'gate', message: 'Go on?' }]);

describe('option values and configs are refused with one clear line (real processes, embedded log)', () => {
  it('a negative number is a value, refused as "must be a positive integer", not "takes no value"', async () => {
    const { root } = rootWith(GATED);
    const maxConcurrent = await runCli(['init', 'lab', '--max-concurrent', '-1'], { root });
    expect(maxConcurrent.code).toBe(2);
    expect(maxConcurrent.stderr).toBe('error: invalid --max-concurrent "-1": must be a positive integer or "unlimited"\n');
    const at = await runCli(['replay', 'r1', '--at', '-1'], { root });
    expect(at.code).toBe(2);
    expect(at.stderr).toBe('error: --at must be a positive integer (a log sequence), got "-1"\n');
    const lease = await runCli(['worker', '--nats', 'nats://127.0.0.1:1', '--lease-ttl-ms', '-5'], { root });
    expect(lease.code).toBe(2);
    expect(lease.stderr).toBe('error: --lease-ttl-ms must be a positive integer (milliseconds), got "-5"\n');
    const nice = await runCli(['worker', '--nats', 'nats://127.0.0.1:1', '--nice', '20'], { root });
    expect([nice.code, nice.stderr]).toEqual([2, 'error: --nice must be an integer from 0 to 19, got "20"\n']);
    // Nothing was created: not even the log's folder.
    expect(fs.existsSync(path.join(root, '.matterstack'))).toBe(false);
  });

  it('a poll interval beyond a day is refused: worker --poll-ms and poll_interval_seconds in operators.yaml', async () => {
    const poll = await runCli(['worker', '--nats', 'nats://127.0.0.1:1', '--poll-ms', '86400001'], { root: rootWith(GATED).root });
    expect(poll.code).toBe(2);
    expect(poll.stderr).toBe('error: --poll-ms must be at most 86400000 (milliseconds), got "86400001"\n');
    const temp = rootWith(GATED, 'operators:\n  human.default:\n    kind: human\n    poll_interval_seconds: 86401\n');
    const init = await runCli(['init', 'lab'], { root: temp.root });
    expect(init.code).toBe(6);
    expect(init.stderr).toBe(`error: ${path.join(temp.root, 'lab', 'operators.yaml')}:4: operator human.default, field poll_interval_seconds: must be at most 86400 (one day)\n`);
  });

  it('a dangling operators.yaml link is an error naming the link and its target, not "no config"', async () => {
    const temp = rootWith(GATED);
    const link = path.join(temp.root, 'lab', 'operators.yaml');
    fs.symlinkSync(path.join(temp.root, 'gone.yaml'), link);
    const init = await runCli(['init', 'lab'], { root: temp.root });
    expect(init.code).toBe(6);
    expect(init.stderr).toBe(`error: ${link}: a symbolic link to ${path.join(temp.root, 'gone.yaml')}, which does not exist\n`);
    expect((await runCli(['list', '--all', '--json'], { root: temp.root })).json()).toEqual([]);
  });

  it('--comment and --by have the NATS payload limits on the embedded path too (10,000 and 128 characters)', async () => {
    const { root } = rootWith(GATED);
    await runCli(['init', 'lab', '--run-id', 'r1'], { root });
    await runCli(['step', 'r1'], { root });
    const long = await runCli(['approve', 'r1', 'gate', '--comment', 'x'.repeat(10_001)], { root });
    expect(long.code).toBe(2);
    expect(long.stderr).toBe(`error: invalid comment "${'x'.repeat(40)}…" (10001 characters): Too big: expected string to have <=10000 characters\n`);
    const by = await runCli(['approve', 'r1', 'gate', '--by', 'b'.repeat(129)], { root });
    expect(by.code).toBe(2);
    expect(by.stderr).toMatch(/^error: invalid by "b{40}…" \(129 characters\): /);
    expect((await runCli(['status', 'r1', '--json'], { root })).json<{ gates: unknown[] }>().gates).toHaveLength(1);
    const fine = await runCli(['approve', 'r1', 'gate', '--comment', 'x'.repeat(10_000)], { root });
    expect(fine.code, fine.stderr).toBe(0);
  });
});
