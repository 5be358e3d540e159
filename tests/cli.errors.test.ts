import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../cli/commands/index.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));
function newRoot(): TempRoot {
  const temp = tempRoot('ms-cli-err-');
  roots.push(temp);
  return temp;
}

const SIMPLE = oneWorkflowCampaign([{ id: 't', command: 'true' }]);

/** Every error is exactly one `error: …` line on stderr and nothing on stdout. */
function expectOneErrorLine(result: { stdout: string; stderr: string }, pattern: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
}

// Five tests at once, each spawning the CLI dozens of times, on two cores: most of each test's wall time is waiting
// for the others' processes (up to 59.5 s of the default 60 s in CI), so they get a budget that fits that contention.
describe.concurrent('matterstack CLI: bad input gets one clear line, a stable exit code, and changes nothing', { timeout: 150_000 }, () => {
  it('an unknown run is RUN_NOT_FOUND (exit 3) for views and commands; a bad run id is refused before anything (exit 2)', async () => {
    const { root } = newRoot();
    const [status, statusJson, pause, badId, badIdCommand] = await Promise.all([
      runCli(['status', 'nope'], { root }),
      runCli(['status', 'nope', '--json'], { root }),
      runCli(['pause', 'nope'], { root }),
      runCli(['status', 'a/b'], { root }),
      runCli(['cancel', '../x'], { root }),
    ]);
    expect(status.code).toBe(3);
    expect(status.stderr).toBe('error: run nope not found\n');
    expect(statusJson.code).toBe(3);
    expect(statusJson.json()).toEqual({ error: { code: 'RUN_NOT_FOUND', message: 'run nope not found' } });
    expect(pause.code).toBe(3);
    expectOneErrorLine(pause, /run nope not found/);
    expect(badId.code).toBe(2);
    expectOneErrorLine(badId, /invalid run id "a\/b"/);
    expect(badIdCommand.code).toBe(2);
    expectOneErrorLine(badIdCommand, /invalid run id "\.\.\/x"/);
  });

  it('unknown task for rerun / attempts, and a rejected command (pause twice), exit non-zero with the code', async () => {
    const temp = newRoot();
    temp.workspace('lab', SIMPLE);
    await runCli(['init', 'lab', '--run-id', 'r1'], { root: temp.root });
    const [rerun, attempts, rerunJson] = await Promise.all([
      runCli(['rerun', 'r1', 'ghost'], { root: temp.root }),
      runCli(['attempts', 'r1', 'ghost'], { root: temp.root }),
      runCli(['rerun', 'r1', 'ghost', '--json'], { root: temp.root }),
    ]);
    expect(rerun.code).toBe(3);
    expectOneErrorLine(rerun, /^error: rerun rejected for run r1: .*ghost.* \[TASK_NOT_FOUND\]\n$/);
    expect(rerunJson.json()).toEqual({ error: { code: 'TASK_NOT_FOUND', message: expect.stringContaining('ghost') } });
    expect(attempts.code).toBe(3);
    expectOneErrorLine(attempts, /task ghost not found in run r1/);

    expect((await runCli(['pause', 'r1'], { root: temp.root })).code).toBe(0);
    const second = await runCli(['pause', 'r1', '--json'], { root: temp.root });
    expect(second.code).toBe(4);
    expect(second.json()).toEqual({ error: { code: 'ALREADY_PAUSED', message: 'pause rejected for run r1: the run is already paused' } });
  });

  it('a bad workspace, a bad --root, an invalid operators.yaml and a cyclic workflow are refused and nothing is logged', async () => {
    const temp = newRoot();
    temp.workspace('badcfg', SIMPLE, 'operators:\n  local.default:\n    kind: local\n    max_concurrent: 0\n');
    temp.workspace(
      'cyclic',
      oneWorkflowCampaign([
        { id: 'x', command: 'true', dependencies: ['y'] },
        { id: 'y', command: 'true', dependencies: ['x'] },
      ]),
    );
    const missingRoot = path.join(os.tmpdir(), `ms-no-such-root-${process.pid}`);
    const [missing, escaping, badRoot, badConfig, cycle, badCap] = await Promise.all([
      runCli(['init', 'nowhere'], { root: temp.root }),
      runCli(['init', '../outside'], { root: temp.root }),
      runCli(['--root', missingRoot, 'list']),
      runCli(['init', 'badcfg'], { root: temp.root }),
      runCli(['init', 'cyclic'], { root: temp.root }),
      runCli(['init', 'badcfg', '--max-concurrent', 'lots'], { root: temp.root }),
    ]);
    expect(missing.code).toBe(3);
    expectOneErrorLine(missing, /workspace "nowhere" not found/);
    expect(escaping.code).toBe(2);
    expectOneErrorLine(escaping, /invalid workspace slug "\.\.\/outside"/);
    expect(badRoot.code).toBe(3);
    expectOneErrorLine(badRoot, /workspaces root .* does not exist/);
    expect(fs.existsSync(missingRoot)).toBe(false);
    expect(badConfig.code).toBe(6);
    expectOneErrorLine(badConfig, /operators\.yaml:4: operator local\.default, field max_concurrent: /);
    expect(cycle.code).toBe(6);
    expectOneErrorLine(cycle, /campaign cyclic: .*cycle: x -> y -> x/);
    expect(badCap.code).toBe(2);
    expectOneErrorLine(badCap, /invalid --max-concurrent "lots"/);
    const all = await runCli(['list', '--all', '--json'], { root: temp.root });
    expect(all.json()).toEqual([]);
  });

  it('usage errors exit 2 with a hint: unknown command (did you mean), unknown option, missing argument, no command', async () => {
    const [typo, option, missingArg, none, noValue] = await Promise.all([
      runCli(['stauts', 'r1']),
      runCli(['status', 'r1', '--jsn']),
      runCli(['attempts', 'r1']),
      runCli([]),
      runCli(['init', 'lab', '--run-id']),
    ]);
    expect(typo.code).toBe(2);
    expectOneErrorLine(typo, /unknown command "stauts" — did you mean "status"\?/);
    expect(option.code).toBe(2);
    expectOneErrorLine(option, /unknown option --jsn for "status" — did you mean --json\?.*matterstack status --help/);
    expect(missingArg.code).toBe(2);
    expectOneErrorLine(missingArg, /missing argument <task> for "attempts"/);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: matterstack <command>');
    expect(noValue.code).toBe(2);
    expectOneErrorLine(noValue, /option --run-id needs a value/);
  });

  it('--help for every command exits 0 and shows its usage, options and an example; --version prints it', async () => {
    const results = await Promise.all(COMMANDS.map((c) => runCli([c.name, '--help'])));
    results.forEach((result, i) => {
      const name = COMMANDS[i]!.name;
      expect(result.code, name).toBe(0);
      expect(result.stdout, name).toContain(`Usage: matterstack ${name}`);
      expect(result.stdout, name).toContain('Examples:');
      expect(result.stdout, name).toContain(`  matterstack ${name}`);
      expect(result.stdout, name).toContain('Exit codes:');
    });
    const [help, version] = await Promise.all([runCli(['--help']), runCli(['--version'])]);
    expect(help.code).toBe(0);
    for (const command of COMMANDS) expect(help.stdout).toContain(`  ${command.name} `);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
