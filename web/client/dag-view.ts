// The DAG of one iteration: tasks (or fan-out groups with counts) coloured by status.
import { html } from 'htm/preact';
import { useMemo } from 'preact/hooks';
import { layoutDag, type DagNode } from './dag-layout.ts';
import type { Task } from './shared.ts';
import { STATUS_COLOURS } from './status-colours.ts';

/** What a click on the drawing selects: one task, or the tasks of a group. */
export type DagSelection = { taskId: string } | { group: string; taskIds: string[] };

/** A task's current status by its id (undefined: not known). */
export type StatusOf = (id: string) => string | undefined;

/** Counts of each status among `ids`. */
function statusCounts(ids: readonly string[], statusOf: StatusOf): [string, number][] {
  const counts = new Map<string, number>();
  for (const id of ids) {
    const status = statusOf(id) ?? 'PENDING';
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b));
}

function GroupBox({ node, statusOf }: { node: DagNode; statusOf: StatusOf }) {
  const counts = statusCounts(node.taskIds, statusOf);
  let offset = 0;
  const left = node.x - node.width / 2;
  const top = node.y - node.height / 2;
  return html`
    <rect x=${left} y=${top} width=${node.width} height=${node.height} rx="6" class="group-box" />
    ${counts.map(([status, n]) => {
      const w = (node.width - 8) * (n / node.taskIds.length);
      const bar = html`<rect x=${left + 4 + offset} y=${top + node.height - 14} width=${w} height="10" fill=${STATUS_COLOURS[status] ?? '#999'}><title>${`${status}: ${n}`}</title></rect>`;
      offset += w;
      return bar;
    })}
    <text x=${node.x} y=${top + 16} text-anchor="middle" class="node-label">${node.label}</text>
    <text x=${node.x} y=${top + 31} text-anchor="middle" class="node-sub">${counts.map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}</text>`;
}

/**
 * The drawing of `tasks`, laid out again when `structure` changes (a new object), coloured by
 * `statusOf` (a lookup, not a map of every task rebuilt at each delta); `onSelect` gets the task or group clicked.
 */
export function DagView({ tasks, structure, statusOf, selected, onSelect }: { tasks: readonly Task[]; structure: object; statusOf: StatusOf; selected: string | null; onSelect: (selection: DagSelection) => void }) {
  const layout = useMemo(() => layoutDag(tasks), [structure]);
  const centre = new Map(layout.nodes.map((n) => [n.key, n]));
  return html`<svg class="dag" width=${layout.width} height=${layout.height} viewBox=${`0 0 ${layout.width} ${layout.height}`}>
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8896a6" /></marker></defs>
    ${layout.edges.map((e) => html`<polyline class="edge" marker-end="url(#arrow)" points=${e.points.map((p) => `${p.x},${p.y}`).join(' ')} data-from=${e.from} data-to=${e.to} />`)}
    ${layout.nodes.map((node) => {
      if (node.group) {
        return html`<g class="task-group" data-group=${node.key} data-count=${node.taskIds.length} onClick=${() => onSelect({ group: node.label, taskIds: node.taskIds })}>
          <${GroupBox} node=${node} statusOf=${statusOf} />
        </g>`;
      }
      const id = node.taskIds[0] as string;
      const status = statusOf(id) ?? 'PENDING';
      const box = centre.get(node.key) as DagNode;
      return html`<g class=${`task-node${selected === id ? ' selected' : ''}`} data-task-id=${id} data-status=${status} onClick=${() => onSelect({ taskId: id })}>
        <rect x=${box.x - box.width / 2} y=${box.y - box.height / 2} width=${box.width} height=${box.height} rx="6" fill=${STATUS_COLOURS[status] ?? '#999'} />
        <text x=${box.x} y=${box.y + 4} text-anchor="middle" class="node-label light">${id.length > 20 ? `${id.slice(0, 19)}…` : id}</text>
        <title>${`${id}: ${status}`}</title>
      </g>`;
    })}
  </svg>`;
}
