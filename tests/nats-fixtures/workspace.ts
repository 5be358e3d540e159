import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A workspaces root with one workspace `lab` whose campaign.mjs is `source`. */
export function makeWorkspace(source: string, prefix = 'ms-nats-'): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const dir = path.join(root, 'lab');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'campaign.mjs'), source);
  return root;
}

/** A gate then a compute task: the run waits for an approve command. */
export const GATE_CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [
    { id: 'gate', kind: 'gate', message: 'go?' },
    { id: 'work', command: 'echo done > out.txt', dependencies: ['gate'] },
  ] };
}
export function analyze() { return { done: true }; }
`;

/**
 * Tasks that record each execution: every task appends one line to
 * <counterDir>/<runId>.<taskId> (a second line = the command ran twice), then sleeps a little.
 */
export function countingCampaign(counterDir: string, tasks: number, sleepSeconds: number): string {
  return `
const COUNTER = ${JSON.stringify(counterDir)};
export function plan(state) {
  if (state !== null) return null;
  const tasks = [];
  for (let i = 0; i < ${tasks}; i++) {
    tasks.push({ id: 't' + i, command: 'echo "$MATTERSTACK_ATTEMPT_ID" >> "' + COUNTER + '/$MATTERSTACK_RUN_ID.$MATTERSTACK_TASK_ID" && sleep ${sleepSeconds}',
      dependencies: i === 0 ? [] : ['t' + (i - 1)] });
  }
  return { tasks };
}
export function analyze() { return { done: true }; }
`;
}
