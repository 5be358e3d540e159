// Types of the server's JSON and small helpers every view uses.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { askAttempts, getJson, onLive, type LiveMessage } from './api.ts';
import { deltaStep, type RunDelta } from './live-delta.ts';
import { STATUS_COLOURS } from './status-colours.ts';

/** A task as `/api/runs/:run` returns it. */
export interface Task {
  id: string;
  status: string;
  statusReason: string | null;
  operatorKey: string | null;
  attempts: number;
  currentAttemptId: string | null;
  iteration: number | null;
  kind: string | null;
  dependencies: string[];
  message: string | null;
  /** Only in a task's own panel (`/tasks/:task`), not in the run's list. */
  spec?: { inputSchema?: JsonSchema } | null;
}

/** The JSON Schema subset a gate's `inputSchema` form understands. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  title?: string;
  description?: string;
}

/** `/api/runs/:run`. */
export interface RunStatus {
  runId: string;
  workspace: string | null;
  status: string;
  statusReason: string | null;
  phase: string | null;
  iteration: number | null;
  updatedAt: string | null;
  lastSeq: number;
  /** When record lastSeq was logged. */
  seqTime?: string | null;
  tasks: Task[];
  counts: Record<string, number>;
  campaignState?: { iteration: number; state: unknown; time: string; seq: number } | null;
  /** See RunState (web/client/live-delta.ts): replaced when the DAG must be laid out again. */
  structure?: object;
}

/** An attempt as a task's panel (`/api/runs/:run/tasks/:task`) gets it. */
export interface Attempt {
  attemptId: string;
  taskId: string;
  attemptNumber: number;
  status: string;
  operatorKey: string;
  externalId: string | null;
  dir: string | null;
  reason: string | null;
  createdAt: string;
  submittedAt: string | null;
  endedAt: string | null;
  results: { files: Record<string, string>; data: unknown } | null;
  decision: { verb: string; by?: string; comment?: string; data?: unknown } | null;
}

/** An attempt as `/api/runs/:run/attempts` and the live deltas give it: what the timeline draws. */
export type TimelineAttempt = Pick<Attempt, 'attemptId' | 'taskId' | 'attemptNumber' | 'status' | 'operatorKey' | 'reason' | 'createdAt' | 'submittedAt' | 'endedAt'>;

/** A coloured status label. */
export function StatusBadge({ status }: { status: string }) {
  return html`<span class="badge" data-status=${status} style=${{ background: STATUS_COLOURS[status] ?? '#999' }}>${status}</span>`;
}

/** Whether `message` may change what a view of run `runId` (of any run when undefined) shows. */
function touches(message: LiveMessage, runId: string | undefined): boolean {
  if (message.kind === 'delta') return runId === undefined ? message.deltas.length > 0 : message.deltas.some((d) => d.runId === runId);
  if (message.kind === 'resync') return runId === undefined || message.runs.includes(runId);
  return runId === undefined || message.seen[runId] !== undefined;
}

/**
 * Data from `load`, loaded now and again whenever run `runId`'s log grows (any run's when
 * undefined); reloads that overlap collapse into one. For small views; a run's tasks and
 * attempts follow the deltas instead (useDeltaState).
 */
export function useLive<T>(load: () => Promise<T>, runId: string | undefined, deps: unknown[]): { data: T | undefined; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const state = useRef({ running: false, again: false, alive: true });
  const reload = useRef<() => void>(() => undefined);
  useEffect(() => {
    state.current = { running: false, again: false, alive: true };
    const run = (): void => {
      const s = state.current;
      if (s.running) {
        s.again = true;
        return;
      }
      s.running = true;
      load()
        .then((value) => s.alive && (setData(value), setError(null)))
        .catch((e: unknown) => s.alive && setError(e instanceof Error ? e.message : String(e)))
        .finally(() => {
          s.running = false;
          if (s.again && s.alive) {
            s.again = false;
            run();
          }
        });
    };
    reload.current = run;
    run();
    const off = onLive((message) => {
      if (touches(message, runId)) run();
    });
    return () => {
      state.current.alive = false;
      off();
    };
  }, deps);
  return { data, error, reload: () => reload.current() };
}

/** A span of run records the live feed told about; `delta` absent for a `hello`'s mark (nothing to apply). */
interface Heard {
  fromSeq: number;
  toSeq: number;
  delta?: RunDelta;
}

/**
 * State of run `runId` loaded whole by `load` (as of its `lastSeq`) and kept current by applying
 * the live deltas with `apply`; it is loaded whole again after a gap (records the page missed),
 * a `resync`, or a reconnection that passed records it has not seen. Deltas heard while loading
 * wait for the load, then are applied or skipped by seq.
 */
export function useDeltaState<T extends { lastSeq: number }>(
  runId: string,
  load: () => Promise<T>,
  apply: (state: T, delta: RunDelta) => T,
  /** Whether a delta carries the rows `apply` needs (one that does not is a gap). */
  carries: (delta: RunDelta) => boolean = () => true,
): { data: T | undefined; error: string | null } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let current: T | undefined;
    let loading = false;
    let again = false;
    let waiting: Heard[] = [];
    const reload = (): void => {
      if (loading) {
        again = true;
        return;
      }
      loading = true;
      load()
        .then((value) => {
          current = value;
          setError(null);
        })
        .catch((e: unknown) => alive && setError(e instanceof Error ? e.message : String(e)))
        .finally(() => {
          loading = false;
          if (!alive) return;
          if (again) {
            again = false;
            reload();
            return;
          }
          const heard = waiting;
          waiting = [];
          if (current !== undefined) setData(current);
          for (const h of heard) hear(h);
        });
    };
    const hear = (h: Heard): void => {
      if (loading) {
        waiting.push(h);
        return;
      }
      // A failed first load is retried on the next message.
      const step = current === undefined ? 'reload' : deltaStep(current.lastSeq, h, h.delta === undefined || carries(h.delta));
      if (step === 'reload') reload();
      else if (step === 'apply' && current !== undefined && h.delta !== undefined) {
        current = apply(current, h.delta);
        setData(current);
      }
    };
    reload();
    const off = onLive((message) => {
      if (message.kind === 'delta') for (const delta of message.deltas) delta.runId === runId && hear({ fromSeq: delta.fromSeq, toSeq: delta.toSeq, delta });
      else if (message.kind === 'resync') message.runs.includes(runId) && reload();
      else {
        const seen = message.seen[runId];
        if (seen !== undefined) hear({ fromSeq: seen, toSeq: seen });
      }
    });
    return () => {
      alive = false;
      off();
    };
  }, [runId]);
  return { data, error };
}

/** Run `runId`'s attempt rows come with the live deltas while the calling view is shown (call before the useDeltaState that applies them). */
export function useAttemptRows(runId: string): void {
  useEffect(() => askAttempts(runId), [runId]);
}

/** `GET` helper for a run's sub-resource. */
export function runPath(runId: string, rest = ''): string {
  return `/runs/${encodeURIComponent(runId)}${rest}`;
}

export { getJson };

/** A duration in the largest fitting units: `3 d 4 h`, `12 min 5 s`, `800 ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  const units: [number, string][] = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  const parts: string[] = [];
  let rest = s;
  for (const [size, name] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
  }
  return parts.join(' ');
}
