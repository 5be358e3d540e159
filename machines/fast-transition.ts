import { assign, emit, type AnyActorScope, type AnyStateMachine } from 'xstate';

/**
 * XState's pure `transition` / `getInitialSnapshot`, computed without XState's per-call machinery
 * for the subset of statecharts our machines use: compound and atomic states (no parallel,
 * history or final states, no invoke), actions that are `assign`, `emit` or `enqueueActions` of
 * those. The structure of a microstep (which states exit and enter, which actions run in which
 * order, the next configuration) depends only on the transition taken from the current leaf, so
 * it is computed once and cached; guards and actions still run every time, as XState runs them
 * (same arguments, same order). Anything outside the subset returns undefined and the caller
 * asks XState itself. tests/machines.fast-transition.test.ts checks results equal to XState's.
 *
 * Why: XState's generic macrostep cost 20–90 µs per attempt event (cold to warm), more than the
 * rest of the host's work on it together (profiled on bench/workloads.ts).
 */

/** The parts of XState's state nodes and transitions read here (XState's own field names). */
interface Node {
  type: string;
  order: number;
  path: string[];
  parent?: Node;
  tags: string[];
  entry: ActionDef[];
  exit: ActionDef[];
  invoke: unknown[];
  always?: Transition[];
  initial?: { target: Node[]; actions: ActionDef[] };
}
interface Transition {
  target?: Node[];
  source: Node;
  reenter: boolean;
  guard?: unknown;
  actions: ActionDef[];
}
type ActionDef = string | { type: string; params?: unknown } | ((...args: never[]) => unknown);
type Builtin = { type: string; resolve: unknown; assignment?: unknown; event?: unknown; collect?: unknown };
/** An `xstate.emit` action as XState's pure functions return it (what decide.ts collects). */
export interface EmittedAction {
  type: 'xstate.emit';
  params: { event: unknown };
}
interface Snapshot {
  status: string;
  machine: AnyStateMachine;
  context: unknown;
  _nodes: Node[];
  value: unknown;
  [key: string]: unknown;
}

/** Raised inside a run that leaves the supported subset: the caller falls back to XState. */
class Unsupported extends Error {}
const SUPPORTED_NODES = new Set(['atomic', 'compound']);
const SUPPORTED_ACTIONS = new Set(['xstate.assign', 'xstate.emit', 'xstate.enqueueActions']);
const MAX_MICROSTEPS = 1000;

/** The structure of one microstep from one configuration. */
interface Plan {
  actions: ActionDef[];
  nodes: Node[];
  value: unknown;
  /** The configuration does not change (a targetless transition). */
  sameNodes: boolean;
}
const plans = new WeakMap<object, Map<Node, Plan | null>>();

/** XState's `transition(machine, snapshot, event)` for the supported subset, else undefined. */
export function fastTransition(machine: AnyStateMachine, scope: AnyActorScope, snapshot: unknown, event: { type: string }): [unknown, EmittedAction[]] | undefined {
  const current = snapshot as Snapshot;
  if (current.status !== 'active') return undefined;
  try {
    checkedConfiguration(current._nodes);
    const selected = selectTransition(current, event);
    const emitted: EmittedAction[] = [];
    const next = selected === undefined ? current : microstep(current, selected, event, scope, emitted);
    return [settle(next, event, scope, emitted), emitted];
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

/** Each node's transitions by event type (XState's own definitions, so plans stay keyed by them). */
const candidatesByNode = new WeakMap<Node, Map<string, readonly Transition[]>>();

/** XState's candidates of `node` for `type`; nodes with wildcard descriptors are left to XState. */
function candidatesOf(node: Node, type: string): readonly Transition[] {
  let byType = candidatesByNode.get(node);
  const transitions = (node as unknown as { transitions: Map<string, Transition[]> }).transitions;
  if (byType === undefined) {
    for (const descriptor of transitions.keys()) if (descriptor.includes('*')) throw new Unsupported('wildcard event descriptor');
    candidatesByNode.set(node, (byType = new Map()));
  }
  let candidates = byType.get(type);
  if (candidates === undefined) byType.set(type, (candidates = transitions.get(type) ?? []));
  return candidates;
}

/**
 * XState's transition selection for a compound/atomic configuration: the first candidate whose
 * guard passes, from the leaf up to the root. A throwing guard is left to XState (its error text).
 */
function selectTransition(snapshot: Snapshot, event: { type: string }): Transition | undefined {
  const nodes = snapshot._nodes;
  for (let depth = nodes.length - 1; depth >= 0; depth--) {
    for (const candidate of candidatesOf(nodes[depth] as Node, event.type)) {
      if (!candidate.guard) return candidate;
      let passed: boolean;
      try {
        passed = guardPasses(candidate.guard, snapshot, event);
      } catch {
        throw new Unsupported('a guard threw');
      }
      if (passed) return candidate;
    }
  }
  return undefined;
}

/** XState's `machine.getInitialSnapshot(scope, input)` for the supported subset, else undefined. */
export function fastInitialTransition(machine: AnyStateMachine, scope: AnyActorScope, input: unknown): [unknown, EmittedAction[]] | undefined {
  const root = machine.root as unknown as Node;
  const factory = (machine.config as { context?: unknown }).context;
  const event = { type: 'xstate.init', input };
  try {
    const emitted: EmittedAction[] = [];
    // As XState's pre-initial state: a factory's result is copied, a static context is used as is.
    const context = typeof factory === 'function' ? Object.assign({}, factory({ spawn: refuseSpawn, input, self: scope.self })) : (factory ?? {});
    const entered = [root];
    for (let node = root; node.type === 'compound'; ) {
      node = (node.initial as { target: Node[] }).target[0] as Node;
      entered.push(node);
    }
    const nodes = checkedNodes(entered);
    const actions = nodes.flatMap((node) => [...node.entry, ...(node.initial?.actions ?? [])]);
    const base = scope.self.getSnapshot() as Record<string, unknown>;
    const preInitial = snapshotOf(base, context, [root], {});
    const initial = snapshotOf(base, run(actions, preInitial.context, event, scope, emitted, preInitial), nodes, valueOf(nodes));
    return [settle(initial, event, scope, emitted), emitted];
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

/** Takes eventless transitions until none is enabled (XState's macrostep after the event's microstep). */
function settle(start: Snapshot, event: unknown, scope: AnyActorScope, emitted: EmittedAction[]): Snapshot {
  let snapshot = start;
  for (let steps = 0; steps < MAX_MICROSTEPS; steps++) {
    const transition = eventless(snapshot, event);
    if (transition === undefined) return snapshot;
    const next = microstep(snapshot, transition, event, scope, emitted);
    if (next === snapshot) return snapshot;
    snapshot = next;
  }
  throw new Unsupported('too many microsteps');
}

function eventless(snapshot: Snapshot, event: unknown): Transition | undefined {
  const leaf = snapshot._nodes[snapshot._nodes.length - 1] as Node;
  for (let node: Node | undefined = leaf; node !== undefined; node = node.parent) {
    for (const transition of node.always ?? []) {
      if (transition.guard === undefined || guardPasses(transition.guard, snapshot, event)) return transition;
    }
  }
  return undefined;
}

function guardPasses(guard: unknown, snapshot: Snapshot, event: unknown): boolean {
  const inline = typeof guard === 'function';
  const named = typeof guard === 'string' ? guard : (guard as { type: string }).type;
  const resolved = inline ? guard : (snapshot.machine.implementations.guards as Record<string, unknown>)[named];
  if (resolved === undefined) throw new Unsupported(`guard ${named}`);
  if (typeof resolved !== 'function') return guardPasses(resolved, snapshot, event);
  const args = { context: snapshot.context, event };
  if ('check' in resolved) return (resolved as unknown as { check(s: unknown, a: unknown, r: unknown): boolean }).check(snapshot, args, resolved);
  const params = inline || typeof guard === 'string' ? undefined : paramsOf(guard as { params?: unknown }, args);
  return (resolved as (a: unknown, p: unknown) => boolean)(args, params);
}

function paramsOf(def: { params?: unknown }, args: { context: unknown; event: unknown }): unknown {
  if (!('params' in def)) return undefined;
  return typeof def.params === 'function' ? (def.params as (a: unknown) => unknown)(args) : def.params;
}

function microstep(snapshot: Snapshot, transition: Transition, event: unknown, scope: AnyActorScope, emitted: EmittedAction[]): Snapshot {
  const plan = planOf(snapshot, transition);
  if (plan.actions.length === 0 && plan.sameNodes) return snapshot;
  const context = run(plan.actions, snapshot.context, event, scope, emitted, snapshot);
  if (plan.sameNodes) return snapshotOf(snapshot, context, snapshot._nodes, snapshot.value, snapshot);
  return snapshotOf(snapshot, context, plan.nodes, plan.value, snapshot);
}

function planOf(snapshot: Snapshot, transition: Transition): Plan {
  const leaf = snapshot._nodes[snapshot._nodes.length - 1] as Node;
  let byLeaf = plans.get(transition);
  if (byLeaf === undefined) plans.set(transition, (byLeaf = new Map()));
  let plan = byLeaf.get(leaf);
  if (plan === undefined) {
    try {
      plan = computePlan(snapshot._nodes, transition);
    } catch (error) {
      if (!(error instanceof Unsupported)) throw error;
      plan = null;
    }
    byLeaf.set(leaf, plan);
  }
  if (plan === null) throw new Unsupported('transition outside the supported subset');
  return plan;
}

/** XState's exit set, entry set and action order for one transition (SCXML microstep, no history). */
function computePlan(current: Node[], transition: Transition): Plan {
  checkedNodes(current);
  const targets = transition.target ?? [];
  if (targets.length === 0) return { actions: [...transition.actions], nodes: current, value: undefined, sameNodes: true };
  const domain = domainOf(transition, targets);
  const exit = current.filter((node) => isDescendant(node, domain));
  if (transition.reenter && transition.source === domain) exit.push(domain);
  exit.sort((a, b) => b.order - a.order);
  const enter = new Set<Node>();
  const defaultEntry = new Set<Node>();
  for (const target of targets) {
    if (transition.source !== target || transition.source !== domain || transition.reenter) {
      enter.add(target);
      defaultEntry.add(target);
    }
    for (let node = target; node.type === 'compound'; ) {
      node = (node.initial as { target: Node[] }).target[0] as Node;
      enter.add(node);
      defaultEntry.add(node);
    }
  }
  const reentrancyDomain = transition.source.parent === undefined && transition.reenter ? undefined : domain;
  for (const target of targets) {
    for (let node = target.parent; node !== undefined && node !== domain; node = node.parent) {
      if (reentrancyDomain === undefined || isDescendant(node, reentrancyDomain)) enter.add(node);
    }
  }
  const entered = checkedNodes([...enter].sort((a, b) => a.order - b.order));
  const exited = new Set(exit);
  const nodes = current.filter((node) => !exited.has(node));
  for (const node of entered) if (!nodes.includes(node)) nodes.push(node);
  const actions = [
    ...exit.flatMap((node) => node.exit),
    ...transition.actions,
    ...entered.flatMap((node) => [...node.entry, ...(defaultEntry.has(node) ? (node.initial?.actions ?? []) : [])]),
  ];
  const sameNodes = nodes.length === current.length && nodes.every((node) => current.includes(node));
  return { actions, nodes: sameNodes ? current : nodes, value: valueOf(nodes), sameNodes };
}

function domainOf(transition: Transition, targets: Node[]): Node {
  const { source } = transition;
  if (!transition.reenter && targets.every((t) => t === source || isDescendant(t, source))) return source;
  const [head, ...tail] = [...targets, source];
  for (let ancestor = head?.parent; ancestor !== undefined; ancestor = ancestor.parent) {
    if (tail.every((node) => isDescendant(node, ancestor))) return ancestor;
  }
  if (transition.reenter) throw new Unsupported('re-entering root transition');
  let root = source;
  while (root.parent !== undefined) root = root.parent;
  return root;
}

function isDescendant(node: Node, ancestor: Node): boolean {
  for (let parent = node.parent; parent !== undefined; parent = parent.parent) if (parent === ancestor) return true;
  return false;
}

/** Leaves whose configuration (the leaf and its ancestors) was checked supported: checked once, not per event. */
const supportedLeaves = new WeakSet<Node>();

function checkedConfiguration(nodes: Node[]): void {
  const leaf = nodes[nodes.length - 1] as Node;
  if (supportedLeaves.has(leaf)) return;
  checkedNodes(nodes);
  supportedLeaves.add(leaf);
}

function checkedNodes(nodes: Node[]): Node[] {
  for (const node of nodes) {
    if (!SUPPORTED_NODES.has(node.type) || node.invoke.length > 0) throw new Unsupported(`state node type ${node.type}`);
  }
  return nodes;
}

/** The state value of a configuration of nested compound states: its leaf's path as nested keys. */
function valueOf(nodes: Node[]): unknown {
  const leaf = nodes[nodes.length - 1] as Node;
  if (leaf.path.length === 0) throw new Unsupported('machine without states');
  return leaf.path.slice(0, -1).reduceRight<unknown>((inner, key) => ({ [key]: inner }), leaf.path[leaf.path.length - 1]);
}

/** Runs actions as XState's resolveAndExecuteActionsWithContext does; returns the context they leave. */
function run(actions: readonly ActionDef[], start: unknown, event: unknown, scope: AnyActorScope, emitted: EmittedAction[], snapshot: Snapshot): unknown {
  let context = start;
  for (const def of actions) {
    const inline = typeof def === 'function';
    const implementation = (inline ? def : (snapshot.machine.implementations.actions as Record<string, unknown>)[typeof def === 'string' ? def : def.type]) as Builtin | undefined;
    if (implementation === undefined || !('resolve' in implementation) || !SUPPORTED_ACTIONS.has(implementation.type)) {
      throw new Unsupported(`action ${typeof def === 'string' ? def : inline ? def.name : def.type}`);
    }
    const params = inline || typeof def === 'string' ? undefined : paramsOf(def, { context, event });
    const args = { context, event, self: scope.self, system: scope.system };
    if (implementation.type === 'xstate.assign') {
      context = Object.assign({}, context, assigned(implementation.assignment, { ...args, spawn: refuseSpawn }, params));
    } else if (implementation.type === 'xstate.emit') {
      const expr = implementation.event;
      emitted.push({ type: 'xstate.emit', params: { event: typeof expr === 'function' ? expr(args, params) : expr } });
    } else {
      const queued: ActionDef[] = [];
      const enqueue = Object.assign((action: ActionDef) => void queued.push(action), {
        assign: (...a: Parameters<typeof assign>) => void queued.push(assign(...a) as unknown as ActionDef),
        emit: (...a: Parameters<typeof emit>) => void queued.push(emit(...a) as unknown as ActionDef),
      });
      const check = (guard: unknown): boolean => guardPasses(guard, { ...snapshot, context }, event);
      (implementation.collect as (a: unknown, p: unknown) => void)({ context, event, enqueue, check, self: scope.self, system: scope.system }, params);
      context = run(queued, context, event, scope, emitted, snapshot);
    }
  }
  return context;
}

function assigned(assignment: unknown, args: object, params: unknown): object {
  if (typeof assignment === 'function') return assignment(args, params) as object;
  const partial: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(assignment as Record<string, unknown>)) {
    partial[key] = typeof value === 'function' ? value(args, params) : value;
  }
  return partial;
}

function refuseSpawn(): never {
  throw new Unsupported('spawn');
}

/** Shared by every snapshot without children or history (all of ours: no spawn, no history states). */
const NO_CHILDREN = Object.freeze({});
const NO_HISTORY = Object.freeze({});
/** Tags of a configuration, by its leaf (a compound/atomic configuration is its leaf's ancestry). */
const tagsByLeaf = new WeakMap<Node, ReadonlySet<string>>();

function tagsOf(nodes: readonly Node[]): ReadonlySet<string> {
  const leaf = nodes[nodes.length - 1] as Node;
  let tags = tagsByLeaf.get(leaf);
  if (tags === undefined) tagsByLeaf.set(leaf, (tags = new Set(nodes.flatMap((node) => node.tags))));
  return tags;
}

/**
 * XState's createMachineSnapshot, field for field, with a state value already known. The snapshot
 * methods are XState's shared functions, taken from a snapshot XState made (`base`); `previous`
 * (a microstep's source) lends its status, output, error, children and history.
 */
function snapshotOf(base: Record<string, unknown>, context: unknown, nodes: Node[], value: unknown, previous?: Snapshot): Snapshot {
  return {
    status: previous?.status ?? 'active',
    output: previous?.output,
    error: previous?.error,
    machine: base.machine as AnyStateMachine,
    context,
    _nodes: nodes,
    value,
    tags: previous !== undefined && previous._nodes === nodes ? previous.tags : tagsOf(nodes),
    children: previous?.children ?? NO_CHILDREN,
    historyValue: previous?.historyValue ?? NO_HISTORY,
    matches: base.matches,
    hasTag: base.hasTag,
    can: base.can,
    getMeta: base.getMeta,
    toJSON: base.toJSON,
  };
}
