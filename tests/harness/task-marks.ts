import fs from 'node:fs';
import path from 'node:path';

/**
 * A campaign of `tasks` independent tasks, each marking its own start and end (ms clock) in
 * <marksDir>/<runId>.<taskId>: one "start <ms> <attempt>" and one "end <ms>" line per execution.
 */
export function markingCampaign(marksDir: string, tasks: number, sleepSeconds: number): string {
  return `
const MARKS = ${JSON.stringify(marksDir)};
export function plan(state) {
  if (state !== null) return null;
  const tasks = [];
  for (let i = 0; i < ${tasks}; i++) {
    const file = '"' + MARKS + '/$MATTERSTACK_RUN_ID.$MATTERSTACK_TASK_ID"';
    tasks.push({ id: 't' + i, command: 'echo "start $(date +%s%3N) $MATTERSTACK_ATTEMPT_ID" >> ' + file + ' && sleep ${sleepSeconds} && echo "end $(date +%s%3N)" >> ' + file });
  }
  return { tasks };
}
export function analyze() { return { done: true }; }
`;
}

/** An operators.yaml with the local operator capped at `cap` (and a per-run global cap above it). */
export function cappedOperators(cap: number): string {
  return `defaults:\n  max_concurrent_global: 100\noperators:\n  local.default:\n    kind: local\n    backend:\n      type: local\n    max_concurrent: ${cap}\n`;
}

/** An operators.yaml with only a global cap (no operator capped): every run of the log shares it. */
export function globalCapOperators(cap: number): string {
  return `defaults:\n  max_concurrent_global: ${cap}\n`;
}

/** Every execution found in the marks: its run, task, start and end (end undefined while it runs). */
export function readMarks(marksDir: string): { file: string; starts: number[]; ends: number[] }[] {
  return fs.readdirSync(marksDir).map((file) => {
    const lines = fs.readFileSync(path.join(marksDir, file), 'utf8').trim().split('\n');
    const starts = lines.filter((l) => l.startsWith('start ')).map((l) => Number(l.split(' ')[1]));
    const ends = lines.filter((l) => l.startsWith('end ')).map((l) => Number(l.split(' ')[1]));
    return { file, starts, ends };
  });
}

/** The most task processes that ran at once, from their start and end marks. */
export function maxOverlap(marks: { starts: number[]; ends: number[] }[]): number {
  const points: [number, number][] = [];
  for (const m of marks) {
    for (const s of m.starts) points.push([s, 1]);
    for (const e of m.ends) points.push([e, -1]);
  }
  // An end at the same millisecond as a start counts first: the two did not overlap.
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, delta] of points) {
    now += delta;
    most = Math.max(most, now);
  }
  return most;
}
