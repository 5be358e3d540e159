import { checkOperatorKey, type KeyCheck } from '../../events/operator-key.ts';
import type { TaskSpec } from '../../events/workflow.ts';

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
  const check = checkOperatorKey(routeTask(task, config));
  const list = configured.length > 0 ? configured.join(', ') : '(none)';
  if (!check.ok) return { ok: false, key: check.key, reason: `${check.reason}; configured operators: ${list}` };
  if (!configured.includes(check.key)) {
    return { ok: false, key: check.key, reason: `no operator configured for key "${check.key}"; configured operators: ${list}` };
  }
  return check;
}
