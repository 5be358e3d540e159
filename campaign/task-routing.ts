import { COMPUTE_KINDS, type OperatorEntry } from '../workspace/operators-config.ts';
import type { RunContext } from '../machines/run-context.ts';
import { resolveOperator } from '../machines/rules/operator-key.ts';
import type { TaskRouting } from './validate-workflow.ts';

/** Does the operator of `entry` run the task's `command` (a compute backend that is not a dry run)? */
function runsCommands(entry: OperatorEntry | undefined): boolean {
  if (entry === undefined || !COMPUTE_KINDS.includes(entry.kind)) return false;
  return !(entry.backend?.type === 'local' && entry.backend.dry_run);
}

/**
 * How the run will route a planned task — the dispatch rule on the run's own routing (from
 * RUN.CREATED) — and what the operator it lands on needs, so a workflow is checked when planned.
 */
export function taskRouting(
  run: Pick<RunContext, 'envOperator' | 'defaultOperator' | 'configuredOperators'>,
  entryOf: (key: string) => OperatorEntry | undefined,
): TaskRouting {
  return {
    route(task) {
      const route = resolveOperator(task, run, run.configuredOperators);
      return route.ok ? { ok: true, key: route.key, runsCommands: runsCommands(entryOf(route.key)) } : route;
    },
  };
}
