import { toDirectedGraph, type DirectedGraphEdge, type DirectedGraphNode } from '@xstate/graph';
import type { StoredEvent } from '../events/envelope.ts';
import { phaseOf } from '../machines/changes.ts';
import { runMachine } from '../machines/run.machine.ts';

/** One event-driven transition of the run machine, as @xstate/graph lists it from the definition. */
interface Transition {
  label: string;
  event: string;
  source: string;
  /** The top-level state it leads to; null when it stays where it is. */
  target: string | null;
  guard: string;
}

/** Which transitions of the run machine the scenarios took, and how often. */
export interface TransitionCoverage {
  exercised: { transition: string; times: number }[];
  /** Transitions no scenario took (what the campaign's tests never tried). */
  missed: string[];
}

/** States a cycle passes through without resting (a record ends wherever the cycle rests). */
const PASSING = new Set(['poll', 'plan', 'execute', 'analyze']);

function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  const parts = (guard as { guards?: unknown[] } | undefined)?.guards;
  if (Array.isArray(parts)) return parts.map(guardName).join(' and ');
  return guard === undefined ? 'otherwise' : 'guarded';
}

function transitionOf(edge: DirectedGraphEdge): Transition {
  const source = edge.source.id;
  const targetId = edge.target.id;
  const target = targetId === 'run' || targetId === source ? null : targetId.split('.')[1]!;
  const guard = guardName(edge.transition.guard);
  const where = source === 'run' ? 'any state' : source.slice('run.'.length);
  return { label: `${where} --${edge.label.text} [${guard}]--> ${target ?? '(stays)'}`, event: edge.label.text, source, target, guard };
}

function collect(node: DirectedGraphNode, into: Transition[]): Transition[] {
  for (const edge of node.edges) into.push(transitionOf(edge));
  for (const child of node.children) collect(child, into);
  return into;
}

/** Every event-driven transition of the run machine, deepest source first (XState's order of choice). */
const TRANSITIONS: readonly Transition[] = collect(toDirectedGraph(runMachine), []).sort((a, b) => Number(a.source === 'run') - Number(b.source === 'run'));

/** True when `record` is what `transition` does (target reached, command accepted or refused, which failure). */
function fits(transition: Transition, record: StoredEvent): boolean {
  const from = phaseOf(record.from);
  const to = phaseOf(record.to);
  if (transition.source !== 'run' && transition.source !== `run.${from}`) return false;
  const command = record.changes.find((change) => change.kind === 'command');
  if (command?.kind === 'command' && command.accepted !== (transition.guard !== 'otherwise')) return false;
  if (transition.event === 'CAMPAIGN.PLANNED' && transition.guard.includes('planBeyondLimit') !== /maxIterations/.test(JSON.stringify(record.changes))) return false;
  if (transition.target === null) return to === from;
  return PASSING.has(transition.target) || to === transition.target || (transition.target === 'analyze' && PASSING.has(to));
}

/** Counts, across scenarios, the run-machine transitions their logs record. */
export class CoverageCounter {
  private readonly times = new Map<string, number>();

  /** Counts the transitions of one scenario's run records. */
  async add(records: AsyncIterable<StoredEvent>): Promise<void> {
    for await (const record of records) {
      if (record.actor !== 'run' || record.from === null) continue;
      const transition = TRANSITIONS.find((candidate) => candidate.event === record.type && fits(candidate, record));
      if (transition !== undefined) this.times.set(transition.label, (this.times.get(transition.label) ?? 0) + 1);
    }
  }

  /** The transitions taken so far and those never taken. */
  report(): TransitionCoverage {
    const exercised = TRANSITIONS.filter((t) => this.times.has(t.label)).map((t) => ({ transition: t.label, times: this.times.get(t.label)! }));
    const missed = TRANSITIONS.filter((t) => !this.times.has(t.label)).map((t) => t.label);
    return { exercised, missed };
  }
}
