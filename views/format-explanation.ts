import { writerText } from '../events/host-version.ts';
import { issuerText } from '../events/run-events.ts';
import { shortJson } from '../events/describe-change.ts';
import { textBlock } from './escape-text.ts';
import { describeDriver } from '../host/run-driver.ts';
import type { Explanation, OperatorHint, TaskReason } from './explanation.ts';
import { sharedSlotText } from './shared-slot-wait.ts';

/** The explanation as text for a terminal: run line, one block per non-done task, next steps. */
export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const iteration = e.iteration < 0 ? 'not planned yet' : `iteration ${e.iteration}`;
  lines.push(`Run ${e.runId} (${e.workspace}): ${e.status}, phase ${e.phase}, ${iteration}${e.reason !== null ? ` — ${e.reason}` : ''}`);
  const counts = Object.entries(e.counts).map(([status, n]) => `${n} ${status}`).join(', ');
  const cap = e.slots.max === null ? 'unlimited' : String(e.slots.max);
  lines.push(`  tasks: ${counts || 'none'}; slots in use: ${e.slots.used}/${cap}; last seq ${e.lastSeq}${e.updatedAt !== null ? `, updated ${e.updatedAt}` : ''}`);
  if (e.driver !== null) lines.push(`  driven by ${describeDriver(e.driver)}`);
  if (e.history !== null) {
    const h = e.history;
    lines.push(`  HISTORY DIVERGES at seq ${h.seq} (${h.actor} ${h.type}, ${h.difference}): written by ${writerText(h.writtenBy)}, decided otherwise by ${writerText(h.readBy)}`);
    lines.push('  this version does not host the run; below is what it makes of the log');
  }
  if (e.tasks.length === 0) {
    lines.push('', e.status === 'COMPLETED' ? 'Every task is done.' : 'No task is waiting.');
  } else {
    lines.push('', 'Not done:');
    for (const t of e.tasks) {
      lines.push(`  ${t.id} [${t.status}${t.attempts > 0 ? `, ${t.attempts} attempt${t.attempts === 1 ? '' : 's'}` : ''}]: ${reasonText(t.why)}`);
      for (const detail of reasonDetails(t.why)) lines.push(`      ${detail}`);
    }
  }
  if (e.decisions.length > 0) {
    lines.push('', 'Gate decisions:');
    let folded = false;
    for (const d of e.decisions) {
      const data = d.data === undefined ? undefined : shortJson(d.data, 100);
      if (data?.endsWith('…') === true) folded = true;
      const details = [d.comment !== undefined ? `comment: ${d.comment}` : null, data !== undefined ? `data: ${data}` : null].filter((x) => x !== null);
      const issuer = issuerText(d.by, d.principal);
      lines.push(`  ${d.taskId} (${d.attemptId}): ${d.verb}${issuer !== undefined ? ` by ${issuer}` : ''}${details.length > 0 ? ` — ${details.join('; ')}` : ''}`);
    }
    if (folded) lines.push(`  (data cut with "…" is whole in \`matterstack explain ${e.runId} --json\`)`);
  }
  if (e.nextSteps.length > 0) {
    lines.push('', 'Next steps:');
    for (const step of e.nextSteps) lines.push(`  - ${step}`);
  }
  return textBlock(lines);
}

/** One sentence for a task's reason. */
export function reasonText(why: TaskReason): string {
  switch (why.kind) {
    case 'waiting-operator':
      if (why.sharedSlot !== undefined && why.sharedSlot !== null) return `${sharedSlotText(why.operatorKey, why.sharedSlot, why.sharedSlot.cap)} (attempt ${why.attemptId})`;
      return `waiting for operator ${why.operatorKey} (attempt ${why.attemptId} ${why.attemptStatus}${why.since !== null ? ` since ${why.since}` : ''})`;
    case 'ready':
      return why.paused ? `ready for ${why.operatorKey}, but the run is paused` : `ready: starts on ${why.operatorKey} at the next step`;
    case 'no-slot':
      return why.cap.scope === 'global'
        ? `ready but no slot: global maxConcurrent ${why.cap.used}/${why.cap.max} in use`
        : `ready but no slot: operator ${why.cap.key} max_concurrent ${why.cap.used}/${why.cap.max} in use`;
    case 'no-operator':
      return `cannot start: ${why.reason}`;
    case 'blocked':
      return `blocked by ${why.waitingOn.map((d) => `${d.id} (${d.status})`).join(', ')}`;
    case 'skipped':
      return why.dependency !== null
        ? `skipped because dependency ${why.dependency} is ${why.dependencyStatus ?? 'unknown'}`
        : `skipped${why.reason !== null ? `: ${why.reason}` : ''}`;
    case 'failed':
      return `failed${why.attemptId !== null ? ` (attempt ${why.attemptId})` : ''}: ${why.reason ?? 'no reason recorded'}${why.allowed ? ' (allowed to fail)' : ''}`;
    case 'cancelled':
      return `cancelled${why.reason !== null ? `: ${why.reason}` : ''}`;
    case 'waiting-campaign':
      return `${why.status}, waiting for the campaign`;
  }
}

function reasonDetails(why: TaskReason): string[] {
  if (why.kind === 'waiting-operator') return hintLines(why.hint);
  if (why.kind === 'failed' && why.logs !== null) {
    const { stdout, stderr, stderrTail } = why.logs;
    const tail = stderrTail === null ? ['stderr: (empty)'] : ['last lines of stderr:', ...stderrTail.replace(/\n$/, '').split('\n').map((line) => `  | ${line}`)];
    return [`stdout: ${stdout}`, `stderr: ${stderr}`, ...tail, `rerun: ${why.rerunCommand}`];
  }
  if (why.kind === 'failed' || why.kind === 'cancelled') return [`rerun: ${why.rerunCommand}`];
  return [];
}

/** The operator-specific lines: where to look, what to drop, which command to run. */
export function hintLines(hint: OperatorHint): string[] {
  switch (hint.kind) {
    case 'human':
      if (hint.decided !== null) return [`decided: ${hint.decided} (the host driving the run acts on it)`];
      return [
        ...(hint.message !== null ? [`question: ${hint.message}`] : []),
        `approve: ${hint.approveCommand}   (reject: ${hint.rejectCommand})`,
        `or drop ${hint.files.join(' or ')} in ${hint.dir}`,
      ];
    case 'experiment':
      return [`request: ${hint.requestFile}`, `expected result file: ${hint.resultFile}`];
    case 'local':
      return [`pid: ${hint.pid ?? 'not started yet'}`, `stdout: ${hint.stdout}`, `stderr: ${hint.stderr}`];
    case 'other':
      return [`external id: ${hint.externalId ?? 'not submitted yet'}, dir ${hint.dir}`, ...(hint.unreachable !== null ? [hint.unreachable] : [])];
  }
}
