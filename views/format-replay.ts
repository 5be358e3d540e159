import { sameWriter, writerText, type WriterStamp } from '../events/host-version.ts';
import { stateText } from '../events/describe-change.ts';
import { canonicalJson } from '../events/canonical-json.ts';
import { textBlock } from './escape-text.ts';
import type { StateAt, TimelineEntry, VerifyResult } from './replay-run.ts';
import { stepPhasesText } from './step-phases.ts';

/**
 * One line per record (`#12 2024-… t1-a1 OPERATOR.REPORTED running → completed`), the phases of a cycle, and an
 * indented line per change; when values were folded, a last line says how to see them whole. Where
 * the run records its writers, a line says who wrote the records below it whenever that changes.
 */
export function formatTimeline(entries: readonly TimelineEntry[], runId?: string): string {
  if (entries.length === 0) return '(no records match)\n';
  const lines: string[] = [];
  const stamped = entries.some((e) => e.writtenBy !== null);
  let writer: WriterStamp | null | undefined;
  for (const e of entries) {
    if (stamped && (writer === undefined || !sameWriter(writer, e.writtenBy))) lines.push(`-- written by ${writerText(e.writtenBy)} --`);
    writer = e.writtenBy;
    lines.push(`#${e.seq} ${e.time} ${e.actor} ${e.type} ${stateText(e.from)} → ${stateText(e.to)}`);
    if (e.phases !== undefined) lines.push(`    phases: ${stepPhasesText(e.phases)}`);
    for (const change of e.changes) lines.push(`    ${change}`);
  }
  if (entries.some((e) => e.folded === true)) {
    lines.push(`(long values are folded with "…": \`matterstack replay ${runId ?? '<run>'} --json\` shows them whole)`);
  }
  return textBlock(lines);
}

/** The run's state after a record: status line, tasks, active attempts, attempt actors. */
export function formatStateAt(state: StateAt): string {
  const lines = [`State after seq ${state.seq}${state.time !== null ? ` (${state.time})` : ''}`];
  const run = state.run;
  if (run === null) {
    lines.push('  run: not created yet');
  } else {
    lines.push(
      `  run: ${run.status}, phase ${run.phase} (${stateText(run.state)}), iteration ${run.iteration}` +
        `${run.reason !== null ? `, reason: ${run.reason}` : ''}`,
    );
    lines.push(`  tasks (${run.tasks.length}):`);
    for (const t of run.tasks) {
      const current = t.currentAttempt !== null ? `, attempt ${t.currentAttempt}` : '';
      lines.push(`    ${t.id}: ${t.status}${current}${t.reason !== undefined ? ` (${t.reason})` : ''}`);
    }
    const cap = run.maxConcurrent === null ? 'unlimited' : String(run.maxConcurrent);
    lines.push(`  active attempts: ${run.active.length}/${cap}${run.active.length > 0 ? ` (${run.active.map((a) => a.attemptId).join(', ')})` : ''}`);
  }
  const attempts = Object.values(state.attempts);
  if (attempts.length > 0) {
    lines.push('  attempts:');
    for (const a of attempts) {
      const ext = a.externalId !== undefined ? `, external id ${a.externalId}` : '';
      lines.push(`    ${a.attemptId} (${a.operatorKey}): ${a.status} [${stateText(a.state)}]${ext}${a.reason !== undefined ? ` (${a.reason})` : ''}`);
    }
  }
  return textBlock(lines);
}

/** "replay verified: N records" or the first divergence with logged vs recomputed facts. */
export function formatVerifyResult(result: VerifyResult): string {
  if (result.ok) return textBlock([`replay verified: ${result.events} records (last seq ${result.lastSeq}) match the current machines`]);
  const lines = [`replay DIVERGES at seq ${result.seq}: ${result.message}`];
  lines.push(`  written by:      ${writerText(result.writtenBy)}`);
  lines.push(`  recomputed by:   ${writerText(result.readBy)}`);
  lines.push(`  logged to:       ${stateText(result.expected.to)}`);
  lines.push(`  recomputed to:   ${result.actual === null ? '(refused)' : stateText(result.actual.to)}`);
  lines.push(`  logged changes:     ${canonicalJson(result.expected.changes)}`);
  lines.push(`  recomputed changes: ${result.actual === null ? '(refused)' : canonicalJson(result.actual.changes)}`);
  return textBlock(lines);
}
