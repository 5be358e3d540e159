import type { RunStatusView } from '../projections/queries.ts';
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
}

/** Groups per-status counts: done = COMPLETED + SKIPPED, failed = FAILED + CANCELLED. */
export function progressCounts(counts: RunStatusView['counts']): ProgressCounts {
  const n = (s: keyof RunStatusView['counts']): number => counts[s] ?? 0;
  return {
    done: n('COMPLETED') + n('SKIPPED'),
    running: n('RUNNING'),
    waiting: n('WAITING_EXTERNAL'),
    pending: n('PENDING'),
    failed: n('FAILED') + n('CANCELLED'),
  };
}

function runLine(view: RunStatusView): string {
  const c = progressCounts(view.counts);
  return `${view.runId}  ${view.workspace ?? '-'}  ${view.status.padEnd(9)}  phase ${(view.phase ?? '-').padEnd(8)}  iteration ${view.iteration ?? '-'}  tasks: ${c.done} done, ${c.running} running, ${c.waiting} waiting, ${c.pending} pending, ${c.failed} failed`;
}

/** The live progress of one or more runs; call `update` as often as you like, it prints only changes. */
export class ProgressDisplay {
  private drawn = 0;
  private readonly last = new Map<string, string>();

  constructor(
    private readonly out: Output,
    readonly mode: ProgressMode,
  ) {}

  /** Shows the runs' current state (terminal: redraws the block; otherwise one line per run that changed). */
  update(views: readonly RunStatusView[]): void {
    if (this.mode === 'tty') {
      const lines = [...views.map(runLine), 'Ctrl-C stops the loop; the run stays resumable.'];
      // Move up over the previous block and rewrite it line by line (clearing leftovers).
      let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
      for (const line of lines) text += `\x1b[2K${line}\n`;
      for (let extra = lines.length; extra < this.drawn; extra++) text += '\x1b[2K\n';
      this.out.write(text);
      this.drawn = Math.max(lines.length, this.drawn);
      return;
    }
    for (const view of views) {
      const counts = progressCounts(view.counts);
      const key = JSON.stringify([view.status, view.phase, view.iteration, counts]);
      if (this.last.get(view.runId) === key) continue;
      this.last.set(view.runId, key);
      if (this.mode === 'json') {
        this.out.jsonLine({ event: 'progress', runId: view.runId, status: view.status, phase: view.phase, iteration: view.iteration, counts: view.counts });
      } else {
        this.out.line(`${new Date().toISOString().slice(11, 19)}  ${runLine(view)}`);
      }
    }
  }
}

/** Picks the display mode for this output. */
export function progressMode(out: Output): ProgressMode {
  if (out.json) return 'json';
  return out.isTTY ? 'tty' : 'lines';
}
