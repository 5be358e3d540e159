// A task's panel: attempts, log tails (followed while it runs), results, files, the explain reason, actions.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { CommandReply } from './api.ts';
import { CommandButton } from './command-button.ts';
import { GateForm } from './gate-form.ts';
import { JsonTree } from './json-tree.ts';
import { getJson, runPath, StatusBadge, useLive, type Attempt, type Task } from './shared.ts';

interface TaskDetail {
  task: Task;
  attempts: Attempt[];
  explain: { reason: string; details: string[] } | null;
}

interface LogChunk {
  attemptId: string;
  ended: boolean;
  where: string;
  size: number | null;
  data: string;
}

/** How often a running attempt's log is read again (its growth is not in the event log). */
const LOG_FOLLOW_MS = 1000;

/** The tail of one stream of the task's latest attempt, read again while the attempt runs. */
function LogTail({ runId, taskId, stream, version }: { runId: string; taskId: string; stream: 'stdout' | 'stderr'; version: number }) {
  const [chunk, setChunk] = useState<LogChunk | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    const read = (): void => {
      getJson<LogChunk>(runPath(runId, `/tasks/${encodeURIComponent(taskId)}/log?stream=${stream}`))
        .then((c) => {
          if (!alive) return;
          setChunk(c);
          setError(null);
          if (!c.ended) timer = window.setTimeout(read, LOG_FOLLOW_MS);
        })
        .catch((e: unknown) => alive && setError(e instanceof Error ? e.message : String(e)));
    };
    read();
    return () => {
      alive = false;
      window.clearTimeout(timer);
    };
  }, [runId, taskId, stream, version]);
  if (error !== null) return html`<div class="muted">${stream}: ${error}</div>`;
  if (chunk === null) return html`<div class="muted">${stream}: loading…</div>`;
  return html`<div class="log"><div class="log-head">${stream} <span class="muted">${chunk.where}${chunk.ended ? '' : ' (following)'}</span></div><pre class=${`log-${stream}`}>${chunk.data || '(empty)'}</pre></div>`;
}

function AttemptRow({ runId, attempt }: { runId: string; attempt: Attempt }) {
  const active = !['COMPLETED', 'FAILED', 'FAILED_INIT', 'CANCELLED'].includes(attempt.status);
  return html`<tr data-attempt-id=${attempt.attemptId}>
    <td>${attempt.attemptNumber}</td><td><${StatusBadge} status=${attempt.status} /></td><td>${attempt.operatorKey}</td>
    <td>${attempt.createdAt}</td><td>${attempt.submittedAt ?? '—'}</td><td>${attempt.endedAt ?? '—'}</td>
    <td>${(attempt.results?.data as { exitCode?: number } | null)?.exitCode ?? '—'}</td>
    <td>${attempt.reason ?? ''}${attempt.decision ? ` (${attempt.decision.verb}${attempt.decision.by ? ` by ${attempt.decision.by}` : ''}${attempt.decision.comment ? `: ${attempt.decision.comment}` : ''})` : ''}</td>
    <td>${active ? html`<${CommandButton} runId=${runId} label="Cancel attempt" command=${{ type: 'CMD.CANCEL_ATTEMPT', attemptId: attempt.attemptId }} />` : null}</td>
  </tr>`;
}

/** The panel of task `taskId`, live. */
export function TaskPanel({ runId, taskId, onClose }: { runId: string; taskId: string; onClose: () => void }) {
  const { data, error } = useLive(() => getJson<TaskDetail>(runPath(runId, `/tasks/${encodeURIComponent(taskId)}`)), runId, [runId, taskId]);
  // Kept here, not in the form: an approval ends the wait, and with it the form, before its reply may be read.
  const [gateReply, setGateReply] = useState<CommandReply | null>(null);
  if (error !== null) return html`<aside class="panel"><button class="close" onClick=${onClose}>×</button><div class="error">${error}</div></aside>`;
  if (data === undefined) return html`<aside class="panel">loading…</aside>`;
  const { task, attempts, explain } = data;
  const latest = attempts[attempts.length - 1];
  const waitingGate = task.kind === 'gate' && (task.status === 'WAITING_EXTERNAL' || task.status === 'RUNNING');
  return html`<aside class="panel" data-panel-task=${task.id}>
    <button class="close" onClick=${onClose}>×</button>
    <h2>${task.id} <${StatusBadge} status=${task.status} /></h2>
    <div class="muted">${task.kind ?? 'compute'} on ${task.operatorKey ?? 'no operator yet'}, iteration ${task.iteration ?? '—'}, ${task.attempts} attempt(s)${task.statusReason ? `: ${task.statusReason}` : ''}</div>
    ${task.message ? html`<p class="gate-message">${task.message}</p>` : null}
    ${explain ? html`<div class="explain"><strong>Why not done:</strong> ${explain.reason}${explain.details.map((line) => html`<div class="muted">${line}</div>`)}</div>` : null}
    ${task.kind === 'gate' ? html`<${GateForm} runId=${runId} taskId=${task.id} schema=${task.spec?.inputSchema} waits=${waitingGate} reply=${gateReply} setReply=${setGateReply} />` : null}
    <div class="buttons"><${CommandButton} runId=${runId} label="Rerun task" command=${{ type: 'CMD.RERUN', taskId: task.id }} /></div>
    <h3>Attempts</h3>
    <table class="attempts"><thead><tr><th>#</th><th>status</th><th>operator</th><th>created</th><th>started</th><th>ended</th><th>exit</th><th>reason</th><th></th></tr></thead>
      <tbody>${attempts.map((a) => html`<${AttemptRow} key=${a.attemptId} runId=${runId} attempt=${a} />`)}</tbody></table>
    ${latest?.results ? html`<h3>Results</h3><${JsonTree} value=${latest.results.data} name="data" />
      <h3>Files</h3><ul class="files">${Object.entries(latest.results.files).map(([name, where]) => html`<li><code>${name}</code> <span class="muted">${where}</span></li>`)}</ul>` : null}
    ${latest ? html`<h3>Logs (attempt ${latest.attemptNumber})</h3>
      <${LogTail} runId=${runId} taskId=${task.id} stream="stdout" version=${attempts.length} />
      <${LogTail} runId=${runId} taskId=${task.id} stream="stderr" version=${attempts.length} />` : null}
  </aside>`;
}
