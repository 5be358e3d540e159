import type { RunStatusView, TaskView } from '../projections/queries.ts';
import { TASK_STATUSES } from '../events/statuses.ts';
import type { CommandContext } from './command.ts';
import { formatTable } from './format-table.ts';
import { natsTarget } from './nats-target.ts';

/** A gate waiting for a human, with the commands that answer it. */
export interface WaitingGate {
  taskId: string;
  message: string | null;
  approve: string;
  reject: string;
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * `matterstack` plus the --root / --nats / --user this invocation used, so a printed hint can be
 * pasted as is; never a password (a URL's `user:pass@` becomes `--user`, the password stays in
 * MATTERSTACK_NATS_PASS).
 */
export function commandPrefix(ctx: CommandContext): string {
  const parts = ['matterstack'];
  if (ctx.global.root !== undefined) parts.push('--root', shellQuote(ctx.global.root));
  const target = natsTarget(ctx);
  if (target !== undefined && ctx.global.natsUrl !== ctx.env.MATTERSTACK_NATS_URL) parts.push('--nats', shellQuote(target.display));
  if (target?.user !== undefined && target.user !== ctx.env.MATTERSTACK_NATS_USER) parts.push('--user', shellQuote(target.user));
  return parts.join(' ');
}

function isWaitingGate(task: TaskView): boolean {
  return task.kind === 'gate' && task.status === 'WAITING_EXTERNAL';
}

/** The run's gates that wait for approval. */
export function waitingGates(view: RunStatusView, prefix: string): WaitingGate[] {
  return view.tasks.filter(isWaitingGate).map((task) => ({
    taskId: task.id,
    message: task.message,
    approve: `${prefix} approve ${view.runId} ${task.id} --comment '...'`,
    reject: `${prefix} reject ${view.runId} ${task.id} --comment '...'`,
  }));
}

/** `2 COMPLETED, 1 RUNNING` in the canonical status order (`no tasks` when empty). */
export function formatCounts(counts: RunStatusView['counts']): string {
  const parts = TASK_STATUSES.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${counts[s]} ${s}`);
  return parts.length > 0 ? parts.join(', ') : 'no tasks';
}

/** One line: `run r1: RUNNING (phase waiting, iteration 0) — 2 COMPLETED, 1 RUNNING`. */
export function summaryLine(view: RunStatusView): string {
  return `run ${view.runId}: ${view.status} (phase ${view.phase ?? '-'}, iteration ${view.iteration ?? '-'}) — ${formatCounts(view.counts)}`;
}

/** The `status` view for people: header, counts, tasks table, waiting gates with their commands. */
export function statusLines(view: RunStatusView, prefix: string): string[] {
  const lines = [
    `run        ${view.runId}`,
    `workspace  ${view.workspace ?? '-'}`,
    `status     ${view.status}${view.statusReason ? ` — ${view.statusReason}` : ''}`,
    `phase      ${view.phase ?? '-'} (iteration ${view.iteration ?? '-'})`,
    `tasks      ${formatCounts(view.counts)}`,
  ];
  if (view.campaignState != null) lines.push(`state      ${stateLine(view, prefix)}`);
  if (view.tasks.length > 0) {
    lines.push('');
    const rows = view.tasks.map((t) => [t.id, t.status, t.operatorKey, t.attempts, t.currentAttemptId, t.statusReason]);
    lines.push(...formatTable(['task', 'status', 'operator', 'attempts', 'current attempt', 'reason'], rows));
  }
  const gates = waitingGates(view, prefix);
  if (gates.length > 0) {
    lines.push('', 'Waiting for approval:');
    for (const gate of gates) {
      lines.push(`  ${gate.taskId}: ${gate.message ?? '(no message)'}`, `    approve: ${gate.approve}`, `    reject:  ${gate.reject}`);
    }
  }
  return lines;
}

const STATE_WIDTH = 100;

/** The campaign state on one line, folded when long, with the command that prints it whole. */
function stateLine(view: RunStatusView, prefix: string): string {
  const state = view.campaignState;
  if (state == null) return '-';
  const text = JSON.stringify(state.state);
  const where = `(iteration ${state.iteration})`;
  if (text.length <= STATE_WIDTH) return `${text} ${where}`;
  return `${text.slice(0, STATE_WIDTH - 1)}… ${where}; whole: ${prefix} status ${view.runId} --state`;
}

/** The `status --json` document: SPEC §6 fields (runId, workspace, status, phase, iteration, tasks[]) plus counts and gates. */
export function statusJson(view: RunStatusView, prefix: string): Record<string, unknown> {
  return { ...view, gates: waitingGates(view, prefix) };
}
