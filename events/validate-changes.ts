import { z } from 'zod';
import type { DomainChange } from './changes.ts';
import type { LoggedStateValue } from './envelope.ts';
import type { JsonValue } from './json.ts';
import { ATTEMPT_STATUSES, RUN_PHASES, RUN_STATUSES, TASK_STATUSES } from './statuses.ts';
import type { TaskSpec, Workflow } from './workflow.ts';

/*
 * The hand-written structural checks behind events/validate-events.ts: JSON and state values,
 * ids, times, task specs and every DomainChange kind. Each accepts exactly what its zod schema
 * accepts and returns the same output (defaults applied), or undefined to hand the input to zod
 * (tests/validate-events.property.test.ts checks the agreement).
 */

const hasOwn = Object.prototype.hasOwnProperty;
const TimeSchema = z.iso.datetime({ offset: true });
/** The very pattern zod's `z.iso.datetime({ offset: true })` checks (it checks nothing else). */
const TIME_PATTERN: RegExp | undefined = (() => {
  const pattern = (TimeSchema as unknown as { _zod?: { def?: { pattern?: unknown } } })._zod?.def?.pattern;
  return pattern instanceof RegExp ? new RegExp(pattern.source, pattern.flags.replace('g', '')) : undefined;
})();

/** Remembers the last timestamp accepted: the events of one batch usually share it. */
let lastValidTime = '';

export function isValidTime(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (value === lastValidTime) return true;
  if (!(TIME_PATTERN === undefined ? TimeSchema.safeParse(value).success : TIME_PATTERN.test(value))) return false;
  lastValidTime = value;
  return true;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      if (value === null) return true;
      if (depth > 200) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isJsonValue(value[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(value)) return false;
      // zod's record drops a `__proto__` key: let zod produce that output.
      for (const key in value) if (key === '__proto__' || !isJsonValue(value[key], depth + 1)) return false;
      return true;
    default:
      return false;
  }
}

function isJsonObject(value: unknown): boolean {
  return isPlainObject(value) && isJsonValue(value);
}

export function isStateValue(value: unknown, depth = 0): value is LoggedStateValue {
  if (typeof value === 'string') return true;
  if (depth > 50 || !isPlainObject(value)) return false;
  for (const key in value) if (key === '__proto__' || !isStateValue(value[key], depth + 1)) return false;
  return true;
}

export function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 128;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const RUN_STATUS_SET: ReadonlySet<unknown> = new Set(RUN_STATUSES);
const TASK_STATUS_SET: ReadonlySet<unknown> = new Set(TASK_STATUSES);
const ATTEMPT_STATUS_SET: ReadonlySet<unknown> = new Set(ATTEMPT_STATUSES);
const RUN_PHASE_SET: ReadonlySet<unknown> = new Set(RUN_PHASES);
const TASK_KIND_SET: ReadonlySet<unknown> = new Set(['compute', 'gate', 'external']);

/** Remembers the last id accepted: a batch's events usually name the same actor and attempt. */
let lastValidId = '';

export function isId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (value === lastValidId) return true;
  if (!ID_PATTERN.test(value)) return false;
  lastValidId = value;
  return true;
}

function isOptString(value: unknown): boolean {
  return value === undefined || typeof value === 'string';
}

function isSafeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Only keys of `allowed` (on a value already known to be a plain object). */
export function onlyKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

function isStringRecord(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  for (const key in value) if (key === '__proto__' || typeof value[key] !== 'string') return false;
  return true;
}

function isStringArray(value: unknown, minLength: number): boolean {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string' || item.length < minLength) return false;
  }
  return true;
}

function isIdArray(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (!isId(value[i])) return false;
  return true;
}

const TASK_SPEC_KEYS: ReadonlySet<string> = new Set([
  'id', 'kind', 'command', 'image', 'files', 'env', 'dependencies', 'cores', 'memoryGb', 'gpus', 'timeLimitMinutes',
  'allowFailure', 'allowDependencyFailure', 'downloadPatterns', 'operatorKey', 'retries', 'retryOn', 'retryBackoffSeconds',
  'message', 'request', 'inputSchema',
]);
const FILE_SOURCE_KEYS: ReadonlySet<string> = new Set(['source']);
const DOWNLOAD_PATTERN_KEYS: ReadonlySet<string> = new Set(['include', 'exclude']);

function isTaskFiles(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  for (const key in value) {
    if (key === '__proto__') return false;
    const file = value[key];
    if (typeof file === 'string') continue;
    if (!isPlainObject(file) || !onlyKeys(file, FILE_SOURCE_KEYS)) return false;
    const source = file.source;
    if (typeof source !== 'string' || source.length < 1) return false;
  }
  return true;
}

const WORKFLOW_KEYS: ReadonlySet<string> = new Set(['tasks']);

/** A TaskSpecSchema check: the spec as zod outputs it (defaults applied), or undefined. */
function fastTaskSpec(input: unknown): TaskSpec | undefined {
  if (!isPlainObject(input) || !onlyKeys(input, TASK_SPEC_KEYS)) return undefined;
  const s = input;
  if (!isId(s.id)) return undefined;
  const { kind, command, dependencies, allowFailure, allowDependencyFailure } = s;
  if (kind !== undefined && !TASK_KIND_SET.has(kind)) return undefined;
  if (command !== undefined) {
    if (typeof command === 'string') {
      if (command.length < 1) return undefined;
    } else if (!isStringArray(command, 0) || (command as unknown[]).length < 1) return undefined;
  }
  if (!isOptString(s.image) || !isOptString(s.operatorKey) || !isOptString(s.message)) return undefined;
  if (s.files !== undefined && !isTaskFiles(s.files)) return undefined;
  if (s.env !== undefined && !isStringRecord(s.env)) return undefined;
  if (dependencies !== undefined && !isIdArray(dependencies)) return undefined;
  const { cores, memoryGb, gpus, timeLimitMinutes, retries, retryBackoffSeconds } = s;
  if (cores !== undefined && !(isSafeInt(cores) && cores > 0)) return undefined;
  if (memoryGb !== undefined && !(isFiniteNumber(memoryGb) && memoryGb > 0)) return undefined;
  if (gpus !== undefined && !(isSafeInt(gpus) && gpus >= 0)) return undefined;
  if (timeLimitMinutes !== undefined && !(isFiniteNumber(timeLimitMinutes) && timeLimitMinutes > 0)) return undefined;
  if (retries !== undefined && !(isSafeInt(retries) && retries >= 0 && retries <= 100)) return undefined;
  if (retryBackoffSeconds !== undefined && !(isFiniteNumber(retryBackoffSeconds) && retryBackoffSeconds >= 0)) return undefined;
  if (allowFailure !== undefined && typeof allowFailure !== 'boolean') return undefined;
  if (allowDependencyFailure !== undefined && typeof allowDependencyFailure !== 'boolean') return undefined;
  const patterns = s.downloadPatterns;
  if (patterns !== undefined) {
    if (!isPlainObject(patterns) || !onlyKeys(patterns, DOWNLOAD_PATTERN_KEYS)) return undefined;
    if (patterns.include !== undefined && !isStringArray(patterns.include, 0)) return undefined;
    if (patterns.exclude !== undefined && !isStringArray(patterns.exclude, 0)) return undefined;
  }
  if (s.retryOn !== undefined && !isStringArray(s.retryOn, 1)) return undefined;
  if (s.request !== undefined && !isJsonValue(s.request)) return undefined;
  if (s.inputSchema !== undefined && !isJsonObject(s.inputSchema)) return undefined;
  if (kind !== undefined && dependencies !== undefined && allowFailure !== undefined && allowDependencyFailure !== undefined) {
    return s as unknown as TaskSpec;
  }
  // zod fills the defaults into a copy; never mutate the caller's object.
  return {
    ...(s as unknown as TaskSpec),
    kind: (kind as TaskSpec['kind'] | undefined) ?? 'compute',
    dependencies: (dependencies as string[] | undefined) ?? [],
    allowFailure: (allowFailure as boolean | undefined) ?? false,
    allowDependencyFailure: (allowDependencyFailure as boolean | undefined) ?? false,
  };
}

/** Nested task fields a workflow copy would have to clone deeply: their tasks go to zod. */
const NESTED_TASK_FIELDS = ['files', 'env', 'downloadPatterns', 'retryOn', 'request', 'inputSchema'] as const;

/**
 * A WorkflowSchema check for a campaign's plan: the workflow as zod outputs it, in fresh objects
 * (campaign code may keep and change what it returned), or undefined to let zod decide and explain.
 */
export function fastWorkflow(input: unknown): Workflow | undefined {
  if (!isPlainObject(input) || !onlyKeys(input, WORKFLOW_KEYS) || !Array.isArray(input.tasks)) return undefined;
  const raw = input.tasks as unknown[];
  const tasks: TaskSpec[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const spec = fastTaskSpec(raw[i]);
    if (spec === undefined) return undefined;
    for (const field of NESTED_TASK_FIELDS) if (spec[field] !== undefined) return undefined;
    const { command } = spec;
    tasks[i] = { ...spec, dependencies: [...spec.dependencies], ...(Array.isArray(command) ? { command: [...command] } : {}) };
  }
  return { tasks };
}

const CHANGE_KEYS: Readonly<Record<DomainChange['kind'], ReadonlySet<string>>> = {
  'run.created': new Set(['kind', 'workspace', 'maxConcurrent']),
  'run.status': new Set(['kind', 'status', 'reason']),
  'run.phase': new Set(['kind', 'phase']),
  'workflow.planned': new Set(['kind', 'iteration', 'tasks']),
  'campaign.state': new Set(['kind', 'iteration', 'state']),
  'task.status': new Set(['kind', 'taskId', 'status', 'reason']),
  'attempt.created': new Set(['kind', 'attemptId', 'taskId', 'operatorKey']),
  'attempt.status': new Set(['kind', 'attemptId', 'status', 'reason', 'externalId', 'operatorData', 'dir']),
  'attempt.results': new Set(['kind', 'attemptId', 'files', 'data']),
  'attempt.decision': new Set(['kind', 'attemptId', 'verb', 'by', 'principal', 'comment', 'data']),
  command: new Set(['kind', 'verb', 'accepted', 'code', 'reason', 'target', 'by', 'principal']),
};

/** A DomainChangeSchema check: the change as zod outputs it, or undefined (let zod decide). */
export function fastDomainChange(input: unknown): DomainChange | undefined {
  if (!isPlainObject(input)) return undefined;
  const c = input;
  const kind = c.kind;
  if (typeof kind !== 'string' || !hasOwn.call(CHANGE_KEYS, kind)) return undefined;
  if (!onlyKeys(c, CHANGE_KEYS[kind as DomainChange['kind']])) return undefined;
  switch (kind as DomainChange['kind']) {
    case 'run.created': {
      const max = c.maxConcurrent;
      if (typeof c.workspace !== 'string' || !(max === null || (isSafeInt(max) && max > 0))) return undefined;
      break;
    }
    case 'run.status':
      if (!RUN_STATUS_SET.has(c.status) || !isOptString(c.reason)) return undefined;
      break;
    case 'run.phase':
      if (!RUN_PHASE_SET.has(c.phase)) return undefined;
      break;
    case 'workflow.planned': {
      const { iteration, tasks } = c;
      if (!(isSafeInt(iteration) && iteration >= 0) || !Array.isArray(tasks)) return undefined;
      const out = mapChecked(tasks, fastTaskSpec);
      if (out === undefined) return undefined;
      if (out !== tasks) return { ...(c as unknown as DomainChange & { kind: 'workflow.planned' }), tasks: out };
      break;
    }
    case 'campaign.state': {
      const iteration = c.iteration;
      if (!(isSafeInt(iteration) && iteration >= 0) || c.state === undefined || !isJsonValue(c.state)) return undefined;
      break;
    }
    case 'task.status':
      if (!isId(c.taskId) || !TASK_STATUS_SET.has(c.status) || !isOptString(c.reason)) return undefined;
      break;
    case 'attempt.created':
      if (!isId(c.attemptId) || !isId(c.taskId) || typeof c.operatorKey !== 'string') return undefined;
      break;
    case 'attempt.status':
      if (!isId(c.attemptId) || !ATTEMPT_STATUS_SET.has(c.status)) return undefined;
      if (!isOptString(c.reason) || !isOptString(c.externalId) || !isOptString(c.dir)) return undefined;
      if (c.operatorData !== undefined && !isJsonObject(c.operatorData)) return undefined;
      break;
    case 'attempt.results':
      if (!isId(c.attemptId) || !isStringRecord(c.files)) return undefined;
      if (c.data !== undefined && !isJsonValue(c.data)) return undefined;
      break;
    case 'attempt.decision':
      if (!isId(c.attemptId) || (c.verb !== 'approved' && c.verb !== 'rejected')) return undefined;
      if (!isOptString(c.by) || !isOptString(c.principal) || !isOptString(c.comment) || (c.data !== undefined && !isJsonValue(c.data))) return undefined;
      break;
    case 'command':
      if (typeof c.verb !== 'string' || typeof c.accepted !== 'boolean') return undefined;
      if (!isOptString(c.code) || !isOptString(c.reason) || !isOptString(c.target) || !isOptString(c.by) || !isOptString(c.principal)) return undefined;
      break;
  }
  return c as unknown as DomainChange;
}

/** The changes array as zod outputs it (a new array only when a change needed defaults), or undefined. */
export function fastDomainChanges(changes: readonly unknown[]): DomainChange[] | undefined {
  return mapChecked(changes, fastDomainChange);
}

/**
 * Each item through `check`: undefined when one fails, else the items — the same array when
 * every check returned its item unchanged, a new one from the first item that changed.
 */
function mapChecked<T>(items: readonly unknown[], check: (item: unknown) => T | undefined): T[] | undefined {
  let out: T[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const checked = check(items[i]);
    if (checked === undefined) return undefined;
    if (checked !== items[i] && out === undefined) out = items.slice(0, i) as T[];
    if (out !== undefined) out.push(checked);
  }
  return out ?? (items as T[]);
}

