// One run: header and actions, then the DAG (with task panels), the timeline, the history and the campaign states.
import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { CommandButton } from './command-button.ts';
import { DagView, type DagSelection, type StatusOf } from './dag-view.ts';
import { HistoryView } from './history-view.ts';
import { JsonTree } from './json-tree.ts';
import { applyAttemptsDelta, applyRunDelta, rowIndex, type AttemptsState, type RunDelta } from './live-delta.ts';
import { getJson, runPath, StatusBadge, useAttemptRows, useDeltaState, useLive, type RunStatus, type Task, type TimelineAttempt } from './shared.ts';
import { TaskPanel } from './task-panel.ts';
import { TimelineView } from './timeline-view.ts';

const TABS = ['dag', 'timeline', 'history', 'state'] as const;
type Tab = (typeof TABS)[number];

/** Tasks of a folded group, as a list to pick one from. */
function GroupList({ selection, statusOf, onPick, onClose }: { selection: { group: string; taskIds: string[] }; statusOf: StatusOf; onPick: (id: string) => void; onClose: () => void }) {
  const [filter, setFilter] = useState('');
  const ids = selection.taskIds.filter((id) => filter === '' || statusOf(id) === filter);
  const statuses = [...new Set(selection.taskIds.map((id) => statusOf(id) ?? ''))].sort();
  return html`<aside class="panel"><button class="close" onClick=${onClose}>×</button><h2>${selection.group}</h2>
    <label>status <select value=${filter} onChange=${(e: Event) => setFilter((e.target as HTMLSelectElement).value)}><option value="">any</option>${statuses.map((s) => html`<option>${s}</option>`)}</select></label>
    <ul class="group-list">${ids.slice(0, 500).map((id) => html`<li><a href="#" onClick=${(e: Event) => (e.preventDefault(), onPick(id))}>${id}</a> <${StatusBadge} status=${statusOf(id) ?? ''} /></li>`)}</ul>
    ${ids.length > 500 ? html`<p class="muted">and ${ids.length - 500} more</p>` : null}</aside>`;
}

function DagTab({ run }: { run: RunStatus }) {
  // Which tasks are where changes only with the run's structure: a status change (most deltas) does not walk every task.
  const iterations = useMemo(() => [...new Set(run.tasks.map((t) => t.iteration ?? 0))].sort((a, b) => a - b), [run.structure]);
  const current = iterations[iterations.length - 1] ?? 0;
  const [iteration, setIteration] = useState<number | null>(null);
  const [selection, setSelection] = useState<DagSelection | null>(null);
  const shown = iteration ?? current;
  const tasks = useMemo(() => run.tasks.filter((t) => (t.iteration ?? 0) === shown), [run.structure, shown]);
  // What the shown iteration's layout depends on: the run's structure, and which iteration.
  const structure = useMemo(() => ({}), [run.structure, shown]);
  const index = rowIndex(run.tasks, (t) => t.id);
  const statusOf: StatusOf = (id) => run.tasks[index.get(id) ?? -1]?.status;
  return html`<div class="dag-tab">
    <div class="iterations">iteration ${iterations.map((i) => html`<button class=${i === shown ? 'on' : ''} data-iteration=${i} onClick=${() => setIteration(i === current ? null : i)}>${i}</button>`)}</div>
    <div class="split">
      <div class="dag-scroll"><${DagView} tasks=${tasks} structure=${structure} statusOf=${statusOf} selected=${selection !== null && 'taskId' in selection ? selection.taskId : null} onSelect=${setSelection} /></div>
      ${selection === null ? null : 'taskId' in selection
        ? html`<${TaskPanel} key=${selection.taskId} runId=${run.runId} taskId=${selection.taskId} onClose=${() => setSelection(null)} />`
        : html`<${GroupList} selection=${selection} statusOf=${statusOf} onPick=${(id: string) => setSelection({ taskId: id })} onClose=${() => setSelection(null)} />`}
    </div>
  </div>`;
}

function TimelineTab({ runId }: { runId: string }) {
  useAttemptRows(runId);
  const { data, error } = useDeltaState(
    runId,
    () => getJson<AttemptsState<TimelineAttempt>>(runPath(runId, '/attempts')),
    (state, delta) => applyAttemptsDelta(state, delta as RunDelta<Task, TimelineAttempt>),
    (delta) => delta.attempts !== undefined,
  );
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, []);
  if (error !== null) return html`<div class="error">${error}</div>`;
  return data === undefined ? html`<p>loading…</p>` : html`<${TimelineView} attempts=${data.attempts} now=${now} />`;
}

function StateTab({ runId }: { runId: string }) {
  const { data } = useLive(() => getJson<{ iteration: number; state: unknown; time: string; seq: number }[]>(runPath(runId, '/states')), runId, [runId]);
  if (data === undefined) return html`<p>loading…</p>`;
  if (data.length === 0) return html`<p class="muted">The campaign has not analyzed anything yet.</p>`;
  return html`<div class="states">${[...data].reverse().map((s) => html`<section class="state" data-iteration=${s.iteration}><h3>iteration ${s.iteration} <span class="muted">seq ${s.seq}, ${s.time}</span></h3><${JsonTree} value=${s.state} /></section>`)}</div>`;
}

/** The page of run `runId`. */
export function RunPage({ runId }: { runId: string }) {
  const { data: run, error } = useDeltaState(
    runId,
    () => getJson<RunStatus>(runPath(runId)).then((r) => ({ ...r, seqTime: r.updatedAt, structure: {} })),
    (state, delta) => applyRunDelta(state, delta as RunDelta<Task, TimelineAttempt>),
  );
  const [tab, setTab] = useState<Tab>('dag');
  if (error !== null) return html`<div class="error">${error}</div>`;
  if (run === undefined) return html`<p>loading…</p>`;
  const counts = Object.entries(run.counts).map(([s, n]) => html`<span class="count"><${StatusBadge} status=${s} /> ${n}</span>`);
  return html`<section class="run-page" data-run-id=${run.runId} data-status=${run.status} data-last-seq=${run.lastSeq} data-seq-time=${run.seqTime ?? ''}>
    <p><a href="#/">← runs</a></p>
    <h1>${run.runId} <${StatusBadge} status=${run.status} /></h1>
    <div class="muted">${run.workspace ?? ''}, phase ${run.phase ?? '—'}, iteration ${run.iteration ?? '—'}, seq ${run.lastSeq}${run.statusReason ? `: ${run.statusReason}` : ''}</div>
    <div class="counts">${counts}</div>
    <div class="buttons run-actions">
      <${CommandButton} runId=${run.runId} label="Pause" command=${{ type: 'CMD.PAUSE' }} />
      <${CommandButton} runId=${run.runId} label="Resume" command=${{ type: 'CMD.RESUME' }} />
      <${CommandButton} runId=${run.runId} label="Cancel run" command=${{ type: 'CMD.CANCEL' }} confirmText="Cancel the run and every active attempt?" />
      <${CommandButton} runId=${run.runId} label="Revive" command=${{ type: 'CMD.REVIVE' }} />
    </div>
    <nav class="tabs">${TABS.map((t) => html`<button class=${t === tab ? 'on' : ''} data-tab=${t} onClick=${() => setTab(t)}>${t}</button>`)}</nav>
    ${tab === 'dag' ? html`<${DagTab} run=${run} />` : null}
    ${tab === 'timeline' ? html`<${TimelineTab} runId=${run.runId} />` : null}
    ${tab === 'history' ? html`<${HistoryView} runId=${run.runId} tasks=${run.tasks} />` : null}
    ${tab === 'state' ? html`<${StateTab} runId=${run.runId} />` : null}
  </section>`;
}
