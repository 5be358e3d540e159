import path from 'node:path';
import { z } from 'zod';
import { MatterStackError } from '../events/errors.ts';
import { inputSchemaProblem } from '../events/json-schema.ts';
import { WorkflowSchema, type TaskSpec, type Workflow } from '../events/workflow.ts';
import { globError } from '../operators/collect-attempt-files.ts';

/** What else the run already has when a new workflow arrives. */
export interface ValidateWorkflowOptions {
  /** Task ids of the run's earlier workflows: dependencies may name them, new tasks may not reuse them. */
  existingTaskIds?: Iterable<string>;
  /** Named in messages (the campaign / workspace). */
  source?: string;
  /** The run's routing: every task must reach a configured operator, and a compute task bound for one that runs commands needs a `command`. */
  routing?: TaskRouting;
}

/** Where a task will be dispatched: the operator's key and whether it runs the task's command, or why no operator takes it. */
export interface TaskRouting {
  route(task: TaskSpec): { ok: true; key: string; runsCommands: boolean } | { ok: false; reason: string };
}

/** The first routing problem of the workflow's tasks (unserved operatorKey, compute task without command). */
function checkRouting(tasks: readonly TaskSpec[], routing: TaskRouting, source: string | undefined): void {
  for (const task of tasks) {
    const route = routing.route(task);
    if (!route.ok) throw invalid(source, task.id, 'operatorKey', route.reason);
    if (task.kind === 'compute' && task.command === undefined && route.runsCommands) {
      throw invalid(source, task.id, 'command', `a compute task needs a command (a string run by sh -c, or an argv array): its operator ${route.key} runs one`);
    }
  }
}

function invalid(source: string | undefined, taskId: string | undefined, field: string, message: string, extra: Record<string, unknown> = {}): MatterStackError {
  const prefix = `${source ? `${source}: ` : ''}workflow${taskId === undefined ? '' : `, task ${taskId}`}${field ? `, field ${field}` : ''}`;
  return new MatterStackError('INVALID_WORKFLOW', `${prefix}: ${message}`, { taskId, field, ...extra });
}

/** A relative path that stays inside its root (no absolute path, no `..`). */
function isSafeRelative(p: string): boolean {
  if (p.length === 0 || p.includes('\0') || path.isAbsolute(p) || /^[A-Za-z]:[\\/]/.test(p)) return false;
  return !p.split(/[\\/]+/).includes('..');
}

/** Finds one cycle among `tasks` (edges task → dependency); returns it as a closed path or null. */
export function findCycle(tasks: readonly Pick<TaskSpec, 'id' | 'dependencies'>[]): string[] | null {
  const deps = new Map(tasks.map((t) => [t.id, t.dependencies.filter((d) => d !== undefined)]));
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  for (const root of deps.keys()) {
    if (state.has(root)) continue;
    // Iterative DFS: workflows may be deep (100k tasks in a chain must not overflow the stack).
    const stack: { id: string; next: number }[] = [{ id: root, next: 0 }];
    state.set(root, 1);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const edges = deps.get(frame.id) ?? [];
      if (frame.next >= edges.length) {
        state.set(frame.id, 2);
        stack.pop();
        continue;
      }
      const dep = edges[frame.next++]!;
      if (!deps.has(dep)) continue; // earlier workflow: already finished, cannot be on a cycle
      const s = state.get(dep);
      if (s === 1) {
        const start = stack.findIndex((f) => f.id === dep);
        return [...stack.slice(start).map((f) => f.id), dep];
      }
      if (s === undefined) {
        state.set(dep, 1);
        stack.push({ id: dep, next: 0 });
      }
    }
  }
  return null;
}

/** Resources are task fields of their own: a `resources` object (or a misspelt one) gets pointed at them. */
function resourcesHint(keys: readonly string[], taskId: string | undefined): string {
  if (taskId === undefined || !keys.some((k) => /^(resources|cpus?|memory|mem|gpu|time|walltime)/i.test(k))) return '';
  return ' (resources are the task fields cores, memoryGb, gpus, timeLimitMinutes)';
}

/** The workflow as WorkflowSchema parses it; its first issue as INVALID_WORKFLOW naming task and field. */
function parseWorkflow(input: unknown, source: string | undefined): Workflow {
  const parsed = WorkflowSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [, index, ...rest] = issue.path;
    let taskId: string | undefined;
    if (issue.path[0] === 'tasks' && typeof index === 'number') {
      const rawTask = (input as { tasks?: unknown[] }).tasks?.[index];
      const rawId = rawTask !== null && typeof rawTask === 'object' ? (rawTask as { id?: unknown }).id : undefined;
      taskId = typeof rawId === 'string' ? rawId : `#${index}`;
    }
    const field = (taskId === undefined ? issue.path : rest).map(String).join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '');
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}${resourcesHint(issue.keys, taskId)}` : issue.message;
    throw invalid(source, taskId, field, message, { issues: z.treeifyError(parsed.error) });
  }
  return parsed.data;
}

/**
 * The workflow parsed by the schema; a value nested deep enough to overflow the stack while it is
 * checked is refused as invalid (campaign output is copied with a depth limit, but the library API
 * and the log hand workflows here directly).
 */
function parseNested(input: unknown, source: string | undefined): Workflow {
  try {
    return parseWorkflow(input, source);
  } catch (error) {
    if (error instanceof RangeError) throw invalid(source, undefined, 'tasks', `a value is nested too deeply to check (${error.message})`);
    throw error;
  }
}

/**
 * Validates a workflow a campaign returned: schema (TaskSpecSchema), unique ids (also against
 * earlier workflows), known dependencies, no cycle, safe file and pattern paths, gates' inputSchema, tasks' resultsSchema. Every error is
 * INVALID_WORKFLOW naming the task and the field; the first one found is thrown.
 */
export function validateWorkflow(input: unknown, options: ValidateWorkflowOptions = {}): Workflow {
  const source = options.source;
  const workflow = parseNested(input, source);
  const existing = new Set(options.existingTaskIds ?? []);

  if (workflow.tasks.length > 0 && workflow.tasks.every((t) => existing.has(t.id))) {
    const ids = workflow.tasks.map((t) => t.id);
    throw invalid(source, undefined, 'tasks', `every task already exists in the run (${ids.join(', ')}): a plan that returns finished work would loop forever; return null when the campaign is done`, { taskIds: ids });
  }
  const seen = new Set<string>();
  // A glob is compiled once per workflow, however many tasks share it.
  const globs = new Map<string, string | undefined>();
  for (const task of workflow.tasks) {
    if (seen.has(task.id)) throw invalid(source, task.id, 'id', 'duplicate task id in this workflow');
    if (existing.has(task.id)) throw invalid(source, task.id, 'id', 'a task with this id already exists in an earlier workflow of the run');
    seen.add(task.id);
  }
  for (const task of workflow.tasks) {
    for (const dep of task.dependencies) {
      if (!seen.has(dep) && !existing.has(dep)) throw invalid(source, task.id, 'dependencies', `unknown dependency "${dep}" (not in this workflow nor an earlier one)`, { dependency: dep });
    }
    for (const dest of Object.keys(task.files ?? {})) {
      if (!isSafeRelative(dest)) throw invalid(source, task.id, 'files', `destination "${dest}" must be a relative path inside the attempt directory`);
    }
    for (const [key, spec] of Object.entries(task.files ?? {})) {
      if (typeof spec !== 'string' && !isSafeRelative(spec.source)) {
        throw invalid(source, task.id, 'files', `source "${spec.source}" of "${key}" must be a relative path inside the workspace`);
      }
    }
    if (task.inputSchema !== undefined) {
      if (task.kind !== 'gate') throw invalid(source, task.id, 'inputSchema', `only gate tasks take an inputSchema (this task is ${task.kind})`);
      const problem = inputSchemaProblem(task.inputSchema);
      if (problem !== null) throw invalid(source, task.id, 'inputSchema', `not a usable JSON Schema: ${problem}`);
    }
    if (task.resultsSchema !== undefined) {
      if (task.kind === 'gate') throw invalid(source, task.id, 'resultsSchema', "a gate's data is its approval's: declare it with inputSchema");
      const problem = inputSchemaProblem(task.resultsSchema, 'resultsSchema');
      if (problem !== null) throw invalid(source, task.id, 'resultsSchema', `not a usable JSON Schema: ${problem}`);
    }
    for (const pattern of [...(task.downloadPatterns?.include ?? []), ...(task.downloadPatterns?.exclude ?? [])]) {
      if (!isSafeRelative(pattern)) throw invalid(source, task.id, 'downloadPatterns', `pattern "${pattern}" must be relative to the attempt directory`);
      // Checked here, not when the attempt's results are collected: by then the task has run for nothing.
      if (!globs.has(pattern)) globs.set(pattern, globError(pattern));
      const unusable = globs.get(pattern);
      if (unusable !== undefined) throw invalid(source, task.id, 'downloadPatterns', `pattern "${pattern.length > 100 ? `${pattern.slice(0, 100)}…` : pattern}" is not a usable glob: ${unusable}`);
    }
  }
  const cycle = findCycle(workflow.tasks);
  if (cycle !== null) throw invalid(source, cycle[0], 'dependencies', `dependency cycle: ${cycle.join(' -> ')}`, { cycle });
  if (options.routing !== undefined) checkRouting(workflow.tasks, options.routing, source);
  return workflow;
}
