// Every run: status, progress, iteration, workspace, last activity; filtered by status and workspace; live.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { getJson, StatusBadge, useLive } from './shared.ts';

interface RunRow {
  runId: string;
  workspace: string | null;
  status: string;
  phase: string | null;
  iteration: number | null;
  updatedAt: string | null;
  /** Null when the server does not know (a page reading through a worker). */
  tasksTotal: number | null;
  tasksDone: number | null;
}

const STATUSES = ['', 'PENDING', 'RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED'];

/** The runs page. */
export function RunsPage() {
  const [status, setStatus] = useState('');
  const [workspace, setWorkspace] = useState('');
  const query = new URLSearchParams({ ...(status ? { status } : {}), ...(workspace ? { workspace } : {}) }).toString();
  const { data, error } = useLive(() => getJson<RunRow[]>(`/runs${query ? `?${query}` : ''}`), undefined, [query]);
  const all = useLive(() => getJson<RunRow[]>('/runs'), undefined, []);
  const workspaces = [...new Set((all.data ?? []).map((r) => r.workspace ?? ''))].sort();
  return html`<section class="runs-page">
    <h1>Runs</h1>
    <div class="filters">
      <label>status <select name="status" value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>${STATUSES.map((s) => html`<option value=${s}>${s || 'any'}</option>`)}</select></label>
      <label>workspace <select name="workspace" value=${workspace} onChange=${(e: Event) => setWorkspace((e.target as HTMLSelectElement).value)}><option value="">any</option>${workspaces.map((w) => html`<option value=${w}>${w}</option>`)}</select></label>
    </div>
    ${error !== null ? html`<div class="error">${error}</div>` : null}
    <table class="runs"><thead><tr><th>run</th><th>status</th><th>progress</th><th>iteration</th><th>workspace</th><th>last activity</th></tr></thead>
      <tbody>${(data ?? []).map((r) => html`<tr class="run-row" data-run-id=${r.runId} data-status=${r.status}>
        <td><a href=${`#/run/${encodeURIComponent(r.runId)}`}>${r.runId}</a></td>
        <td><${StatusBadge} status=${r.status} /> <span class="muted">${r.phase ?? ''}</span></td>
        <td>${r.tasksTotal === null ? '—' : html`<progress max=${Math.max(1, r.tasksTotal)} value=${r.tasksDone ?? 0} /> ${r.tasksDone}/${r.tasksTotal}`}</td>
        <td>${r.iteration ?? '—'}</td><td>${r.workspace ?? ''}</td><td>${r.updatedAt ?? ''}</td></tr>`)}</tbody></table>
    ${data !== undefined && data.length === 0 ? html`<p class="muted">No runs match.</p>` : null}
  </section>`;
}
