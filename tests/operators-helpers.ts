import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TaskSpecSchema, type TaskSpecInput } from '../events/workflow.ts';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import type { OperatorContext } from '../operators/operator.ts';

/** A fresh workspace directory in the OS temp dir. */
export function tempWorkspace(prefix = 'ms-op-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** An operator context for `task` in `workspaceDir` (attempt `<id>-a1`, run `r1`). */
export function contextFor(workspaceDir: string, task: TaskSpecInput, config: Partial<OperatorEntry> = {}, attemptNo = 1): OperatorContext {
  const spec = TaskSpecSchema.parse(task);
  const runDir = path.join(workspaceDir, 'runs', 'r1');
  const attemptId = `${spec.id}-a${attemptNo}`;
  return {
    runId: 'r1',
    attempt: { attemptId, taskId: spec.id, dir: path.join(runDir, 'attempts', spec.id, attemptId) },
    task: spec,
    workspaceDir,
    runDir,
    operatorKey: 'local.default',
    config: { kind: 'local', backend: { type: 'local', dry_run: false }, maxConcurrent: null, ...config },
  };
}

/** Cleanup: SIGKILL to `pid` (a process group when negative); one that has exited already is left alone. */
export function killLeftover(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: it has exited already, so nothing is left to kill.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The pid a task wrote to `name` in its attempt folder; throws while the file is missing or still empty (for vi.waitFor). */
export function pidIn(ctx: OperatorContext, name: string): number {
  const pid = Number(readFileSync(path.join(ctx.attempt.dir, name), 'utf8').trim());
  if (!(pid > 0)) throw new Error(`${name} holds no pid yet`);
  return pid;
}
