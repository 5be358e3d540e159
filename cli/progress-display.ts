import type { RunStatusView, TaskView } from '../projections/queries.ts';
import type { Output } from './output.ts';

/** How `loop` shows progress: a redrawn block on a terminal, log lines otherwise, JSON lines with --json. */
export type ProgressMode = 'tty' | 'lines' | 'json';

/** Task counts grouped the way people read progress. */
export interface ProgressCounts {
  done: number;
  running: number;
  waiting: number;
  pending: number;
  failed: number;
  cancelled: number;
}

/** Groups per-status counts: done = COMPLETED + SKIPPED; cancelled tasks are not failures. */
export function progressCounts(counts: RunStatusView['counts']): ProgressCounts {
  const n = (s: keyof RunStatusView['counts']): number => counts[s] ?? 0;
  return {
    done: n('COMPLETED') + n('SKIPPED'),
    running: n('RUNNING'),
    waiting: n('WAITING_EXTERNAL'),
    pending: n('PENDING'),
    failed: n('FAILED'),
    cancelled: n('CANCELLED'),
  };
}

const CYCLE_PHASES = new Set(['poll', 'plan', 'execute']);

function gatesWaiting(tasks: readonly TaskView[]): string[] {
  return tasks.filter((t) => t.kind === 'gate' && t.status === 'WAITING_EXTERNAL').map((t) => t.id);
}

/**
 * Where the run is, in words: a phase while a cycle runs, or what it waits for. The analyze phase
 * outlives its cycle only while the campaign's analyze/plan call is out.
 */
export function whereText(view: RunStatusView, nextCycleSeconds: number): string {
  const phase = view.phase ?? '-';
  if (CYCLE_PHASES.has(phase)) return phase;
  if (phase === 'analyze') return 'waiting for the campaign';
  if (phase !== 'waiting') return phase;
  const gates = gatesWaiting(view.tasks);
  if (gates.length > 0) return `waiting for approval of ${gates.join(', ')}`;
  return `waiting (next cycle in ${nextCycleSeconds} s)`;
}

function countsText(c: ProgressCounts): string {
  const parts = (Object.entries(c) as [keyof ProgressCounts, number][]).filter(([key, n]) => n > 0 || key === 'done').map(([key, n]) => `${n} ${key}`);
  return `tasks: ${parts.join(', ')}`;
}

// Cut to the terminal's width: a wrapped line would break the cursor-up redraw of the block.
function fit(line: string, columns: number | undefined): string {
  if (columns === undefined || line.length < columns) return line;
  return `${line.slice(0, Math.max(0, columns - 2))}…`;
}

/** The live progress of one or more runs; call `update` as often as you like, it prints only changes. */
export class ProgressDisplay {
  private drawn = 0;
  private readonly last = new Map<string, string>();

  /** `nextCycleSeconds`: at the latest, when the driver starts the next cycle of a waiting run. */
  constructor(
    private readonly out: Output,
    readonly mode: ProgressMode,
    private readonly nextCycleSeconds: (view: RunStatusView) => number,
  ) {}

  /** Shows the runs' current state (terminal: redraws the block; otherwise one line per run that changed). */
  update(views: readonly RunStatusView[]): void {
    if (this.mode === 'tty') {
      const lines: string[] = [];
      for (const view of views) {
        // Where the run is gets a line of its own, so a long run id or workspace never cuts it off.
        lines.push(`${view.runId} ${view.status} iteration ${view.iteration ?? '-'} (${view.workspace ?? '-'})`);
        lines.push(`  ${whereText(view, this.nextCycleSeconds(view))}`);
        lines.push(`  ${countsText(progressCounts(view.counts))}`);
      }
      lines.push('Ctrl-C stops the loop; the run stays resumable.');
      // Move up over the previous block and rewrite it line by line (clearing leftovers).
      let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
      for (const line of lines) text += `\x1b[2K${fit(line, this.out.columns)}\n`;
      for (let extra = lines.length; extra < this.drawn; extra++) text += '\x1b[2K\n';
      this.out.write(text);
      this.drawn = Math.max(lines.length, this.drawn);
      return;
    }
    for (const view of views) {
      const counts = progressCounts(view.counts);
      const where = whereText(view, this.nextCycleSeconds(view));
      const key = JSON.stringify([view.status, where, view.iteration, counts]);
      if (this.last.get(view.runId) === key) continue;
      this.last.set(view.runId, key);
      if (this.mode === 'json') {
        this.out.jsonLine({ event: 'progress', runId: view.runId, status: view.status, phase: view.phase, where, iteration: view.iteration, counts: view.counts });
      } else {
        this.out.line(`${new Date().toISOString().slice(11, 19)}  ${view.runId}  ${view.workspace ?? '-'}  ${view.status}  iteration ${view.iteration ?? '-'}  ${where}  ${countsText(counts)}`);
      }
    }
  }
}

/** Picks the display mode for this output. */
export function progressMode(out: Output): ProgressMode {
  if (out.json) return 'json';
  return out.isTTY ? 'tty' : 'lines';
}
