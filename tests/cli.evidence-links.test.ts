import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

const SENTINEL = 'not yours to overwrite\n';

/** A run whose only task runs `command` in its attempt folder (runs/<run>/attempts/<task>/<attempt>: the run folder is ../../..). */
async function runWith(command: string): Promise<{ root: string; outside: string }> {
  const temp = tempRoot('ms-evidence-links-');
  roots.push(temp);
  const outside = path.join(temp.root, 'elsewhere');
  fs.mkdirSync(outside);
  for (const name of ['bundle.json', 'report.md']) fs.writeFileSync(path.join(outside, name), SENTINEL);
  temp.workspace('lab', oneWorkflowCampaign([{ id: 'sneaky', command: command.replaceAll('$OUTSIDE', outside) }]));
  expect((await runCli(['init', 'lab', '--run-id', 'r1'], { root: temp.root })).code).toBe(0);
  expect((await runCli(['loop', 'r1'], { root: temp.root })).code).toBe(0);
  return { root: temp.root, outside };
}

function expectUntouched(outside: string): void {
  expect(fs.readdirSync(outside).sort()).toEqual(['bundle.json', 'report.md']);
  for (const name of ['bundle.json', 'report.md']) expect(fs.readFileSync(path.join(outside, name), 'utf8')).toBe(SENTINEL);
}

describe('export-evidence never writes through a link a task left in the run folder', () => {
  it('an evidence folder that is a link out of the run folder is refused, naming it; nothing outside changes', async () => {
    const { root, outside } = await runWith('ln -s $OUTSIDE ../../../evidence');
    const result = await runCli(['export-evidence', 'r1'], { root });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/runs\/r1\/evidence is a symbolic link \(to .*elsewhere\): export-evidence does not write through it/);
    expectUntouched(outside);
  });

  it('a report.md that is a link to a file elsewhere is refused; the file stays as it was', async () => {
    const { root, outside } = await runWith('mkdir -p ../../../evidence && ln -s $OUTSIDE/report.md ../../../evidence/report.md');
    const result = await runCli(['export-evidence', 'r1'], { root });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/evidence\/report\.md is a symbolic link/);
    expectUntouched(outside);
    // Once the link is gone, the export works.
    fs.rmSync(path.join(root, 'lab', 'runs', 'r1', 'evidence', 'report.md'));
    expect((await runCli(['export-evidence', 'r1'], { root })).code).toBe(0);
    expectUntouched(outside);
  });
});
