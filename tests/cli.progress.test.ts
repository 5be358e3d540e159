import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EXIT_CODES } from '../cli/exit-codes.ts';
import { ORCHESTRATOR_NODE_FLAGS } from '../cli/process-settings.ts';
import { whereText } from '../cli/progress-display.ts';
import type { RunStatusView } from '../projections/queries.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// `loop`'s live progress in a real pseudo-terminal (util-linux `script`) sized to 60 columns.
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/matterstack.js');
const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

const CAMPAIGN = oneWorkflowCampaign([
  { id: 'prepare_the_long_named_sample', command: 'sleep 2' },
  { id: 'gate', kind: 'gate', message: 'go?', dependencies: ['prepare_the_long_named_sample'] },
  { id: 'work', command: 'true', dependencies: ['gate'] },
]);

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/** What a terminal shows, line by line: escape sequences dropped, carriage returns as line ends. */
function screenLines(raw: string): string[] {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r\n|\r|\n/);
}

describe('loop progress on a 60-column terminal', () => {
  it('names where the run is, counts cancelled tasks apart, and never overflows the line', async () => {
    const temp = tempRoot('ms-progress-');
    roots.push(temp);
    temp.workspace('lab_with_a_rather_long_workspace_name', CAMPAIGN);
    const init = await runCli(['init', 'lab_with_a_rather_long_workspace_name', '--run-id', 'run_progress_1'], { root: temp.root });
    expect(init.code, init.stderr).toBe(0);

    const loop = [process.execPath, ...ORCHESTRATOR_NODE_FLAGS, BIN, 'loop', 'run_progress_1'].map(quote).join(' ');
    const child = spawn('script', ['-qec', `stty cols 60 rows 40; exec ${loop}`, '/dev/null'], {
      cwd: temp.root,
      env: { ...process.env, MATTERSTACK_WORKSPACES_ROOT: temp.root, MATTERSTACK_NATS_URL: '', TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let raw = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await vi.waitFor(() => expect(raw).toContain('waiting for approval of gate'), { timeout: 30_000 });
      const cancel = await runCli(['cancel', 'run_progress_1'], { root: temp.root });
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(await exited).toBe(EXIT_CODES.RUN_CANCELLED);
    } finally {
      child.kill('SIGKILL');
    }

    const lines = screenLines(raw);
    const text = lines.join('\n');
    expect(text).toContain('waiting (next cycle in 1 s)');
    expect(text).toContain('waiting for approval of gate');
    expect(text).toContain('tasks: 1 done, 1 pending, 1 cancelled');
    expect(text).not.toMatch(/\d failed/);
    const tooLong = lines.filter((line) => line.length >= 60);
    expect(tooLong, text).toEqual([]);
  });
});

describe('where a run is, in words', () => {
  const view = (phase: RunStatusView['phase']): RunStatusView => ({
    runId: 'r1', workspace: 'lab', status: 'RUNNING', statusReason: null, phase, iteration: 0, maxConcurrent: null,
    createdAt: null, updatedAt: null, lastSeq: 1, tasks: [], counts: {},
  });
  it('names a cycle phase, and the campaign while its analyze call is out', () => {
    expect(['poll', 'plan', 'execute', 'analyze', 'waiting'].map((p) => whereText(view(p as RunStatusView['phase']), 3))).toEqual([
      'poll', 'plan', 'execute', 'waiting for the campaign', 'waiting (next cycle in 3 s)',
    ]);
  });
});
