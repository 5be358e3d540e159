import type { TaskSpec } from '../../events/workflow.ts';

const KIND = /^[a-z][a-z0-9_]*$/;
const NAME = /^[a-z0-9][a-z0-9_.-]*$/;
const LEGACY: Record<string, string> = {
  local: 'local.default',
  hpc: 'hpc.default',
  human: 'human.default',
  experiment: 'experiment.default',
};

export type KeyCheck = { ok: true; key: string } | { ok: false; key: string; reason: string };

/** Normalises an operator key (trim, lower-case, legacy names) and validates it per SPEC §2. */
export function normalizeOperatorKey(raw: string): KeyCheck {
  const trimmed = raw.trim();
  const legacy = LEGACY[trimmed.toLowerCase()];
  if (legacy !== undefined) return { ok: true, key: legacy };
  const key = trimmed.toLowerCase();
  if (/\s/.test(key)) return { ok: false, key, reason: `operator key "${raw}" contains whitespace` };
  if (key.includes('..')) return { ok: false, key, reason: `operator key "${raw}" contains ".."` };
  const dot = key.indexOf('.');
  if (dot < 0) return { ok: false, key, reason: `operator key "${raw}" is not of the form kind.name` };
  const kind = key.slice(0, dot);
  const name = key.slice(dot + 1);
  if (!KIND.test(kind)) return { ok: false, key, reason: `operator key "${raw}": kind "${kind}" must match [a-z][a-z0-9_]*` };
  if (!NAME.test(name)) return { ok: false, key, reason: `operator key "${raw}": name "${name}" must match [a-z0-9][a-z0-9_.-]*` };
  return { ok: true, key };
}

/** Where routing reads from: what RUN.CREATED told the run. */
export interface RoutingConfig {
  envOperator?: string | undefined;
  defaultOperator: string;
}

/** The raw key a task routes to: task operatorKey > env MATTERSTACK_OPERATOR > kind > workspace default. */
export function routeTask(task: Pick<TaskSpec, 'operatorKey' | 'kind'>, config: RoutingConfig): string {
  if (task.operatorKey !== undefined && task.operatorKey.trim() !== '') return task.operatorKey;
  if (config.envOperator !== undefined && config.envOperator.trim() !== '') return config.envOperator;
  if (task.kind === 'gate') return 'human.default';
  if (task.kind === 'external') return 'experiment.default';
  return config.defaultOperator;
}

/** Resolves a task's operator: the normalised key, or why no configured operator can take it. */
export function resolveOperator(
  task: Pick<TaskSpec, 'operatorKey' | 'kind'>,
  config: RoutingConfig,
  configured: readonly string[],
): KeyCheck {
  const check = normalizeOperatorKey(routeTask(task, config));
  const list = configured.length > 0 ? configured.join(', ') : '(none)';
  if (!check.ok) return { ok: false, key: check.key, reason: `${check.reason}; configured operators: ${list}` };
  if (!configured.includes(check.key)) {
    return { ok: false, key: check.key, reason: `no operator configured for key "${check.key}"; configured operators: ${list}` };
  }
  return check;
}
