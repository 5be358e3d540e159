import type { EvidenceBundle } from './build-evidence.ts';
import { shortJson } from '../events/describe-change.ts';
import { textBlock } from './escape-text.ts';
import { writerText } from '../events/host-version.ts';
import { issuerText, recordedIssuerText } from '../events/run-events.ts';

/** A table cell: pipes and newlines would break the Markdown table. */
function cell(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  return String(value).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function table(header: string[], rows: (string | number | null | undefined)[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)];
}

/** The readable report (report.md): outcome, tasks, attempts, gate decisions, failures, iterations, commands. Pure and deterministic. */
export function renderEvidenceReport(b: EvidenceBundle): string {
  let folded = false;
  const fold = (value: unknown, max: number): string => {
    const text = shortJson(value, max);
    if (text.endsWith('…')) folded = true;
    return text;
  };
  const out: string[] = [`# Evidence: run ${b.runId}`, ''];
  out.push('## Outcome', '');
  out.push(`- Workspace: ${b.workspace ?? '—'}`);
  out.push(`- Status: **${b.outcome.status}**${b.outcome.reason !== null ? ` — ${b.outcome.reason}` : ''}`);
  out.push(`- Iterations: ${b.outcome.iteration === null ? '—' : b.outcome.iteration + 1}`);
  out.push(`- Started: ${b.outcome.startedAt ?? '—'}; ended: ${b.outcome.endedAt ?? '(not finished)'}`);
  const counts = new Map<string, number>();
  for (const t of b.tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  out.push(`- Tasks: ${b.tasks.length} (${[...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}); attempts: ${b.attempts.length}`);
  out.push(`- Log: ${b.log.events} records, last seq ${b.log.lastSeq}; replay ${b.log.divergence === null ? 'verified against the current machines' : `DIVERGES at seq ${b.log.divergence.seq}: ${b.log.divergence.message}`}`);
  for (const range of b.log.writers) out.push(`- Records ${range.fromSeq}–${range.toSeq} written by ${writerText(range.writer)}`);
  out.push('');

  out.push('## Tasks', '');
  out.push(
    ...table(
      ['Task', 'Iteration', 'Kind', 'Status', 'Operator', 'Attempts', 'Depends on', 'Reason'],
      b.tasks.map((t) => [t.id, t.iteration, t.kind, t.status, t.operatorKey, t.attempts, t.dependencies.join(', '), t.statusReason]),
    ),
    '',
  );

  out.push('## Attempts', '');
  if (b.attempts.length === 0) out.push('No attempts.', '');
  else {
    out.push(
      ...table(
        ['Attempt', 'Task', 'Status', 'Operator', 'External id', 'Created', 'Submitted', 'Ended', 'Results', 'Reason'],
        b.attempts.map((a) => [
          a.attemptId,
          a.taskId,
          a.status,
          a.operatorKey,
          a.externalId,
          a.createdAt,
          a.submittedAt,
          a.endedAt,
          a.results === null ? null : `${Object.keys(a.results.files).length} files${a.results.data !== null ? `, data ${fold(a.results.data, 60)}` : ''}`,
          a.reason,
        ]),
      ),
      '',
    );
  }

  const decided = b.attempts.filter((a) => a.decision !== null);
  if (decided.length > 0) {
    out.push('## Gate decisions', '');
    out.push(
      ...table(
        ['Attempt', 'Task', 'Decision', 'By', 'Comment', 'Data'],
        decided.map((a) => [a.attemptId, a.taskId, a.decision?.verb, issuerText(a.decision?.by, a.decision?.principal), a.decision?.comment, a.decision?.data === undefined ? null : fold(a.decision.data, 120)]),
      ),
      '',
    );
  }

  out.push('## Failures', '');
  const failedTasks = b.tasks.filter((t) => t.status === 'FAILED' || t.status === 'SKIPPED' || t.status === 'CANCELLED');
  const failedAttempts = b.attempts.filter((a) => a.status === 'FAILED' || a.status === 'FAILED_INIT' || a.status === 'CANCELLED');
  if (failedTasks.length === 0 && failedAttempts.length === 0) out.push('None.', '');
  else {
    for (const t of failedTasks) out.push(`- Task **${t.id}** ${t.status}: ${t.statusReason ?? 'no reason recorded'}`);
    for (const a of failedAttempts) out.push(`- Attempt ${a.attemptId} (${a.operatorKey}) ${a.status}${a.endedAt !== null ? ` at ${a.endedAt}` : ''}: ${a.reason ?? 'no reason recorded'}`);
    out.push('');
  }

  out.push('## Iterations', '');
  if (b.campaignStates.length === 0) out.push('No campaign state recorded.', '');
  else {
    const planned = new Map<number, string[]>();
    for (const t of b.tasks) if (t.iteration !== null) planned.set(t.iteration, [...(planned.get(t.iteration) ?? []), t.id]);
    out.push(
      ...table(
        ['Iteration', 'Planned at', 'Seq', 'Tasks', 'Campaign state'],
        b.campaignStates.map((s) => [s.iteration, s.time, s.seq, (planned.get(s.iteration) ?? []).join(', '), fold(s.state, 120)]),
      ),
      '',
    );
  }

  out.push('## Commands', '');
  if (b.commands.length === 0) out.push('None.', '');
  else {
    out.push(
      ...table(
        ['Seq', 'Time', 'Command', 'Target', 'By', 'Outcome'],
        b.commands.map((c) => [c.seq, c.time, c.verb, c.target, recordedIssuerText(c.by ?? undefined, c.principal ?? undefined), c.accepted ? 'accepted' : `rejected ${c.code ?? ''}: ${c.reason ?? ''}`]),
      ),
      '',
    );
  }
  if (folded) out.push('Values cut with "…" are whole in bundle.json (`attempts[].results`, `attempts[].decision`, `campaignStates[].state`).', '');
  while (out.at(-1) === '') out.pop();
  return textBlock(out);
}
