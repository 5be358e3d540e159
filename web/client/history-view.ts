// The event log with a scrubber: the run as it was after any record (the replay of `replay --at`).
import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { DagView, type DagSelection } from './dag-view.ts';
import { JsonTree } from './json-tree.ts';
import { getJson, runPath, StatusBadge, useLive, type Task } from './shared.ts';

interface LogEntry {
  seq: number;
  time: string;
  actor: string;
  type: string;
  changes: string[];
}

interface StateAt {
  seq: number;
  time: string | null;
  run: { status: string; phase: string; iteration: number; reason: string | null; tasks: { id: string; iteration: number; status: string; reason?: string; attempts: number; currentAttempt: string | null }[] } | null;
  attempts: Record<string, { attemptId: string; taskId: string; operatorKey: string; status: string; reason?: string }>;
}

interface CampaignState {
  iteration: number;
  state: unknown;
  seq: number;
}

/** The history tab of run `runId`; `tasks` (the current ones) give the dependencies to draw. */
export function HistoryView({ runId, tasks }: { runId: string; tasks: Task[] }) {
  const log = useLive(() => getJson<LogEntry[]>(runPath(runId, '/events')), runId, [runId]);
  const states = useLive(() => getJson<CampaignState[]>(runPath(runId, '/states')), runId, [runId]);
  const entries = log.data ?? [];
  const last = entries[entries.length - 1]?.seq ?? 0;
  const [seq, setSeq] = useState<number | null>(null);
  const [at, setAt] = useState<StateAt | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const shown = seq ?? last;
  useEffect(() => {
    if (shown === 0) return;
    let alive = true;
    const timer = window.setTimeout(() => {
      getJson<StateAt>(runPath(runId, `/at/${shown}`)).then((s) => alive && setAt(s));
    }, 60);
    return () => {
      alive = false;
      window.clearTimeout(timer);
    };
  }, [runId, shown]);
  const statusAt = useMemo(() => new Map((at?.run?.tasks ?? []).map((t) => [t.id, t.status])), [at]);
  if (log.error !== null) return html`<div class="error">${log.error}</div>`;
  if (entries.length === 0) return html`<p>loading…</p>`;
  const entry = entries.find((e) => e.seq === shown);
  const deps = new Map(tasks.map((t) => [t.id, t]));
  const pastTasks: Task[] = (at?.run?.tasks ?? []).map((t) => ({ ...(deps.get(t.id) ?? { statusReason: null, operatorKey: null, currentAttemptId: null, kind: null, dependencies: [], message: null, spec: null }), id: t.id, status: t.status, iteration: t.iteration, attempts: t.attempts }) as Task);
  const iteration = at?.run?.iteration ?? 0;
  const drawn = pastTasks.filter((t) => t.iteration === iteration);
  // A past state has no structure token (web/client/live-delta.ts): its tasks and dependencies spelled out tell a change.
  const structure = useMemo(() => ({}), [drawn.map((t) => `${t.id}<${t.dependencies.join(',')}`).join(';')]);
  const state = [...(states.data ?? [])].filter((s) => s.seq <= shown).pop();
  const task = at?.run?.tasks.find((t) => t.id === selected);
  return html`<div class="history">
    <div class="scrubber">
      <input type="range" class="scrubber-input" min="1" max=${last} value=${shown} onInput=${(e: Event) => setSeq(Number((e.target as HTMLInputElement).value))} />
      <span class="scrubber-seq" data-seq=${shown}>seq ${shown} / ${last}</span>
      ${seq !== null ? html`<button onClick=${() => setSeq(null)}>follow the end</button>` : html`<span class="muted">following the end</span>`}
    </div>
    ${entry ? html`<div class="entry"><code>${entry.time}</code> <strong>${entry.actor}</strong> ${entry.type}<ul>${entry.changes.map((c) => html`<li>${c}</li>`)}</ul></div>` : null}
    ${at?.run ? html`<div class="history-state" data-at-seq=${at.seq}>
      run <${StatusBadge} status=${at.run.status} /> phase ${at.run.phase}, iteration ${at.run.iteration}${at.run.reason ? `: ${at.run.reason}` : ''}
      <div class="dag-scroll"><${DagView} tasks=${drawn} structure=${structure} statusOf=${(id: string) => statusAt.get(id)} selected=${selected} onSelect=${(s: DagSelection) => setSelected('taskId' in s ? s.taskId : null)} /></div>
      ${task ? html`<div class="panel-inline"><h3>${task.id} <${StatusBadge} status=${task.status} /> as of seq ${at.seq}</h3>
        <ul>${Object.values(at.attempts).filter((a) => a.taskId === task.id).map((a) => html`<li>${a.attemptId} <${StatusBadge} status=${a.status} /> on ${a.operatorKey}${a.reason ? `: ${a.reason}` : ''}</li>`)}</ul></div>` : null}
      <h3>Campaign state then</h3>${state ? html`<${JsonTree} value=${state.state} name=${`iteration ${state.iteration}`} />` : html`<p class="muted">none yet</p>`}
    </div>` : null}
  </div>`;
}
