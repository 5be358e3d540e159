import type { LoggedStateValue } from './envelope.ts';
import type { DomainChange } from './changes.ts';
import { issuerText, recordedIssuerText } from './run-events.ts';

const MAX_JSON = 80;

/** Short JSON for one line of text. */
export function shortJson(value: unknown, max = MAX_JSON): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Turns domain changes into compact sentences (`task t1 PENDING→RUNNING`). Stateful on purpose:
 * a change carries only the new status, so the describer remembers the previous one — feed it
 * every record of the run in order, even those a filter will hide.
 */
export class ChangeDescriber {
  /** True once a sentence had a value folded with "…" (never when built with `whole`). */
  folded = false;
  private readonly whole: boolean;
  private readonly tasks = new Map<string, string>();
  private readonly attempts = new Map<string, string>();
  private readonly externals = new Map<string, string>();
  private runStatus: string | undefined;
  private phase: string | undefined;

  /** `whole`: values are written out in full (for --json), never folded with "…". */
  constructor(options: { whole?: boolean } = {}) {
    this.whole = options.whole === true;
  }

  /** A JSON value for a sentence: whole, or folded to `max` characters. */
  private json(value: unknown, max = MAX_JSON): string {
    if (this.whole) return JSON.stringify(value) ?? 'undefined';
    const text = shortJson(value, max);
    if (text.endsWith('…')) this.folded = true;
    return text;
  }

  /** One sentence per change of a record, in order. */
  describe(changes: readonly DomainChange[]): string[] {
    return changes.map((change) => this.one(change));
  }

  private one(c: DomainChange): string {
    switch (c.kind) {
      case 'run.created':
        return `run created (workspace ${c.workspace}, maxConcurrent ${c.maxConcurrent ?? 'unlimited'})`;
      case 'run.status': {
        const text = `run ${arrow(this.runStatus, c.status)}${why(c.reason)}`;
        this.runStatus = c.status;
        return text;
      }
      case 'run.phase': {
        const text = `phase ${arrow(this.phase, c.phase)}`;
        this.phase = c.phase;
        return text;
      }
      case 'workflow.planned': {
        for (const task of c.tasks) this.tasks.set(task.id, 'PENDING');
        const ids = c.tasks.map((t) => t.id);
        const listed = this.whole ? ids.length : 5;
        const shown = ids.slice(0, listed).join(', ') + (ids.length > listed ? `, … (+${ids.length - listed})` : '');
        if (ids.length > listed) this.folded = true;
        return `workflow ${c.iteration} planned: ${ids.length} task${ids.length === 1 ? '' : 's'}${ids.length > 0 ? ` (${shown})` : ''}`;
      }
      case 'campaign.state':
        return `campaign state of iteration ${c.iteration}: ${this.json(c.state)}`;
      case 'task.status': {
        const text = `task ${c.taskId} ${arrow(this.tasks.get(c.taskId), c.status)}${why(c.reason)}`;
        this.tasks.set(c.taskId, c.status);
        return text;
      }
      case 'attempt.created':
        return `attempt ${c.attemptId} created for task ${c.taskId} on ${c.operatorKey}`;
      case 'attempt.status': {
        // The external id rides on every later status change too: show it once, when it appears.
        const fresh = c.externalId !== undefined && this.externals.get(c.attemptId) !== c.externalId;
        const text = `attempt ${c.attemptId} ${arrow(this.attempts.get(c.attemptId), c.status)}${fresh ? externalOf(c) : ''}${why(c.reason)}`;
        this.attempts.set(c.attemptId, c.status);
        if (c.externalId !== undefined) this.externals.set(c.attemptId, c.externalId);
        return text;
      }
      case 'attempt.results': {
        const files = Object.keys(c.files).length;
        return `attempt ${c.attemptId} results: ${files} file${files === 1 ? '' : 's'}${c.data !== undefined ? `, data ${this.json(c.data, 60)}` : ''}`;
      }
      case 'attempt.decision': {
        const issuer = issuerText(c.by, c.principal);
        const by = issuer !== undefined ? ` by ${issuer}` : '';
        const comment = c.comment !== undefined ? `, comment ${this.json(c.comment)}` : '';
        return `attempt ${c.attemptId} ${c.verb}${by}${comment}${c.data !== undefined ? `, data ${this.json(c.data)}` : ''}`;
      }
      case 'command': {
        const target = c.target !== undefined ? ` ${c.target}` : '';
        const issuer = recordedIssuerText(c.by, c.principal);
        const by = issuer !== undefined ? ` by ${issuer}` : '';
        if (c.accepted) return `command ${c.verb}${target}${by} accepted`;
        return `command ${c.verb}${target}${by} rejected${c.code !== undefined ? ` ${c.code}` : ''}${c.reason !== undefined ? `: ${c.reason}` : ''}`;
      }
    }
  }
}

function arrow(before: string | undefined, after: string): string {
  return before === undefined || before === after ? after : `${before}→${after}`;
}

function why(reason: string | undefined): string {
  return reason === undefined ? '' : ` (${reason})`;
}

/** `(pid 123)` for local processes, else `(external id …)`; only when the change carries one. */
function externalOf(c: Extract<DomainChange, { kind: 'attempt.status' }>): string {
  const pid = c.operatorData?.pid;
  if (typeof pid === 'number') return ` (pid ${pid})`;
  return c.externalId !== undefined ? ` (external id ${c.externalId})` : '';
}

/** `execute.dispatching` for `{execute: 'dispatching'}`; `-` for none. */
export function stateText(value: LoggedStateValue | null): string {
  if (value === null) return '-';
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([key, inner]) => `${key}.${stateText(inner)}`)
    .join(',');
}
