// One lane per task (grouped by operator): each attempt's wait (created → started) and run (started → ended).
import { html } from 'htm/preact';
import { formatDuration, type TimelineAttempt } from './shared.ts';
import { STATUS_COLOURS } from './status-colours.ts';
import { timeScale } from './time-scale.ts';

const LANE_H = 18;
const LABEL_W = 170;
const AXIS_W = 900;
/** Lanes drawn at most; a 10,000-task fan-out shows its first ones and says how many more. */
const MAX_LANES = 400;

/** The timeline of the run's attempts; `now` ends the bars of attempts still going. */
export function TimelineView({ attempts, now }: { attempts: TimelineAttempt[]; now: number }) {
  if (attempts.length === 0) return html`<p class="muted">No attempts yet.</p>`;
  const at = (text: string | null): number | null => (text === null ? null : Date.parse(text));
  const instants = attempts.flatMap((a) => [at(a.createdAt), at(a.submittedAt), at(a.endedAt)]).filter((t): t is number => t !== null);
  if (attempts.some((a) => a.endedAt === null)) instants.push(now);
  const scale = timeScale(instants, AXIS_W);
  const byTask = new Map<string, TimelineAttempt[]>();
  for (const a of [...attempts].sort((p, q) => p.operatorKey.localeCompare(q.operatorKey) || p.createdAt.localeCompare(q.createdAt))) {
    byTask.set(a.taskId, [...(byTask.get(a.taskId) ?? []), a]);
  }
  const lanes = [...byTask].slice(0, MAX_LANES);
  let operator = '';
  let y = 20;
  const rows = lanes.map(([taskId, list]) => {
    const first = list[0] as TimelineAttempt;
    const header = first.operatorKey !== operator ? ((operator = first.operatorKey), html`<text x="4" y=${(y += LANE_H) - 4} class="lane-group">${operator}</text>`) : null;
    const laneY = (y += LANE_H) - LANE_H;
    return html`${header}<g class="lane" data-lane=${taskId}>
      <text x="12" y=${laneY + 13} class="lane-label">${taskId}</text>
      ${list.map((a) => {
        const created = at(a.createdAt) as number;
        const started = at(a.submittedAt);
        const ended = at(a.endedAt) ?? now;
        const waitEnd = started ?? ended;
        const x0 = LABEL_W + scale.x(created);
        const x1 = LABEL_W + scale.x(waitEnd);
        const x2 = LABEL_W + scale.x(ended);
        return html`<g class="attempt-bar" data-attempt-id=${a.attemptId}>
          <rect class="wait" x=${x0} y=${laneY + 5} width=${Math.max(1, x1 - x0)} height="6"><title>${`${a.attemptId} waited ${formatDuration(waitEnd - created)}`}</title></rect>
          ${started !== null ? html`<rect class="run" x=${x1} y=${laneY + 2} width=${Math.max(2, x2 - x1)} height="12" fill=${STATUS_COLOURS[a.status] ?? '#999'}><title>${`${a.attemptId} ${a.status}, ran ${formatDuration(ended - started)}${a.reason ? `: ${a.reason}` : ''}`}</title></rect>` : null}
        </g>`;
      })}
    </g>`;
  });
  const height = y + 10;
  return html`<div class="timeline-wrap">
    <svg class="timeline" width=${LABEL_W + scale.width + 20} height=${height}>
      ${scale.squeezes.map((s) => html`<g class="squeeze"><rect x=${LABEL_W + s.x} y="0" width="36" height=${height} /><text x=${LABEL_W + s.x + 18} y="12" text-anchor="middle">${`⋯ ${formatDuration(s.to - s.from)}`}</text></g>`)}
      ${rows}
    </svg>
    ${byTask.size > MAX_LANES ? html`<p class="muted">${byTask.size - MAX_LANES} more tasks not drawn.</p>` : null}
    <p class="legend"><span class="wait-key"></span> waiting (created → started) <span class="run-key"></span> running (started → ended), coloured by status; ⋯ marks an idle stretch drawn short, with its real length.</p>
  </div>`;
}
