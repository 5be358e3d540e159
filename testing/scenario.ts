import { errorMessage } from '../events/errors.ts';
import type { JsonValue } from '../events/json.ts';
import { createLogger } from '../events/logger.ts';
import type { RunCommand } from '../events/run-events.ts';
import { TERMINAL_RUN_STATUSES, TERMINAL_TASK_STATUSES, type RunStatus, type TaskStatus } from '../events/statuses.ts';
import { activeSize } from '../machines/active-attempts.ts';
import { isWatchable } from '../machines/attempt-phase.ts';
import { tasksInOrder } from '../machines/run-context.ts';
import { initialRunContext } from '../machines/run-actions.ts';
import { taskRouting } from '../campaign/task-routing.ts';
import { validateWorkflow } from '../campaign/validate-workflow.ts';
import { OperatorRegistry } from '../operators/operator-registry.ts';
import { EffectRunner } from '../host/effect-runner.ts';
import { RunHost } from '../host/run-host.ts';
import { runCreatedEvent } from '../host/run-lifecycle.ts';
import type { EventLog } from '../events/event-log.ts';
import type { OperatorsConfig } from '../workspace/operators-config.ts';
import { explainState } from '../views/explain-run.ts';
import type { CheckedCampaign } from './checked-campaign.ts';
import { type Choose, type CommandChoice, type ResultsArbitrary, type ScenarioScript } from './outcomes.ts';
import { SimulatedWorld } from './simulated-world.ts';

/** What an invariant sees of the run beside the campaign state. */
export interface RunView<State = JsonValue> {
  status: RunStatus;
  /** The iteration of the workflow just planned. */
  iteration: number;
  /** The campaign state before the last `analyze` (null before the first). */
  previousState: State | null;
  /** Every task planned so far and its status. */
  tasks: Record<string, TaskStatus>;
}

/** A property of the user's own: false (or a throw) when broken. */
export type Invariant<State = JsonValue> = (state: State, run: RunView<State>) => boolean | void;

/** Everything a scenario needs that does not change between scenarios. */
export interface ScenarioSetup {
  /** The workspace slug recorded in RUN.CREATED. */
  workspace: string;
  workspaceDir: string;
  config: OperatorsConfig;
  campaign: CheckedCampaign;
  /** The run's cap on planned workflows (RUN.CREATED's maxIterations). */
  maxIterations: number;
  /** Cycles after which a run that is still going fails the check. */
  maxCycles: number;
  results?: ResultsArbitrary;
  gateData?: ResultsArbitrary;
  invariants: readonly Invariant<never>[];
}

/** How a scenario went: its story and what the check found wrong (nothing: it passed). */
export interface ScenarioOutcome {
  runId: string;
  story: string[];
  problems: string[];
  status: RunStatus | undefined;
}

/** Scenarios log nothing: what matters is in their story and their log. */
const logger = createLogger({ level: 'silent' });


/**
 * Runs one scenario as run `runId` of `log`: the campaign's real plan and analyze, through the
 * real run and attempt machines and host, in a world where `script` says which attempts fail or
 * wait and which commands are sent, and `choose` draws the data tasks report. Cycles are
 * driven as `matterstack step` drives them (poll, then RUN.STEP), so no clock is involved.
 */
export async function runScenario(setup: ScenarioSetup, script: ScenarioScript, choose: Choose, log: EventLog, runId: string): Promise<ScenarioOutcome> {
  const story: string[] = [];
  const problems: string[] = [];
  const tell = (line: string): void => void story.push(line);
  const world = new SimulatedWorld({ fates: script.fates, choose, tell, ...(setup.results ? { results: setup.results } : {}), ...(setup.gateData ? { gateData: setup.gateData } : {}) });
  const operators = OperatorRegistry.fromConfig(setup.config, { factories: world.factories() });
  const { loaded, throws } = setup.campaign;
  const runner = new EffectRunner({ runId, workspaceDir: setup.workspaceDir, operators, campaign: loaded, mode: 'step', logger, sleep: async () => undefined });
  const host = RunHost.create(log, runId, { effects: runner, logger });
  const outcome = (): ScenarioOutcome => ({ runId, story, problems, status: host.status });

  const created = runCreatedEvent(setup.workspace, setup.config, undefined, setup.maxIterations);
  let first: JsonValue;
  try {
    first = await loaded.plan(null, { runId, iteration: 0 });
    const routing = taskRouting(initialRunContext(created), (key) => operators.get(key)?.config);
    const workflow = first === null ? null : validateWorkflow(first, { source: `campaign ${loaded.name}`, routing });
    await host.deliver([
      { actor: 'run', event: created },
      { actor: 'run', event: { type: 'CAMPAIGN.PLANNED', iteration: 0, workflow, state: null } },
    ]);
  } catch (error) {
    problems.push(campaignProblem(throws.take() ?? `the first plan failed: ${errorMessage(error)}`));
    tell(problems[0]!);
    return outcome();
  }

  let lastState: JsonValue = null;
  let previousState: JsonValue = null;
  for (let cycle = 0; ; cycle++) {
    await host.settle();
    for (const error of host.drainErrors()) problems.push(`an effect failed: ${errorMessage(error)}`);
    const run = host.state.run!;
    if (run.context.campaignState !== lastState) {
      previousState = lastState;
      lastState = run.context.campaignState;
      checkInvariants(setup.invariants, lastState, runView(host, previousState), problems, tell);
    }
    if (problems.length > 0) break;
    if (TERMINAL_RUN_STATUSES.includes(run.context.status) && activeSize(run.context.active) === 0) {
      endOf(run.context.status, run.context.reason, throws.take(), problems, tell);
      break;
    }
    if (cycle >= setup.maxCycles) {
      problems.push(`the run did not end within ${setup.maxCycles} cycles (status ${run.context.status}, iteration ${run.context.iteration})`);
      tell(problems[0]!);
      break;
    }
    const before = host.seq;
    const commands = script.commands.filter((command) => command.cycle === cycle).flatMap((command) => commandOf(command, host));
    commands.push(...world.decide(host.state));
    for (const command of commands) await sendCommand(host, command, tell);
    await host.settle();
    await runner.pollActive(host);
    await host.settle();
    await host.deliver({ actor: 'run', event: { type: 'RUN.STEP' } });
    await host.settle();
    if (host.seq !== before || commands.length > 0) continue;
    // Nothing moved in a whole cycle: the run rests. A person resumes a paused run; a gate left waiting is a fine place to rest.
    if (host.status === 'PAUSED') {
      await sendCommand(host, { type: 'CMD.RESUME', by: 'matterstack check' }, tell);
      continue;
    }
    if (host.state.run?.context.awaitingPlan !== null) continue;
    restsExplained(host, world, setup.workspaceDir, problems, tell);
    break;
  }
  runner.stop();
  return outcome();
}

/**
 * A run that rests must be waiting for a person, and say so: every gate left waiting must be named
 * by the run's explanation (the view `matterstack explain` prints) with a next step for a person.
 */
function restsExplained(host: RunHost, world: SimulatedWorld, workspaceDir: string, problems: string[], tell: (line: string) => void): void {
  const waiting = [...world.waitingGates].flatMap((id) => {
    const attempt = host.state.attempts.get(id)?.context;
    return attempt?.status === 'WAITING_EXTERNAL' ? [attempt.taskId] : [];
  });
  const explanation = explainState({ runId: host.runId, workspaceDir }, host.state, host.seq);
  const steps = explanation.nextSteps.join('; ') || 'none';
  const unexplained = waiting.filter((taskId) => !explanation.tasks.some((task) => task.id === taskId && task.why.kind === 'waiting-operator') || !explanation.nextSteps.some((step) => step.includes(` ${taskId} `)));
  if (waiting.length === 0) problems.push(`the run rests ${host.status} with nothing to wait for (no attempt active, no campaign call out, no gate waiting); explain's next steps: ${steps}`);
  else if (unexplained.length > 0) problems.push(`the run rests waiting for ${unexplained.join(', ')}, but \`matterstack explain\` gives a person nothing to do about it (next steps: ${steps})`);
  else {
    tell(`the run rests, waiting for approval of ${waiting.join(', ')}`);
    return;
  }
  tell(problems[0]!);
}

/** Records a failed invariant (false or a throw) as a problem. */
function checkInvariants(invariants: readonly Invariant<never>[], state: JsonValue, view: RunView, problems: string[], tell: (line: string) => void): void {
  invariants.forEach((invariant, index) => {
    let verdict: boolean | void;
    try {
      verdict = (invariant as Invariant)(state, view);
    } catch (error) {
      problems.push(`invariant ${invariantName(invariant, index)} threw ${errorMessage(error)} (state ${JSON.stringify(state)})`);
      tell(problems.at(-1)!);
      return;
    }
    if (verdict === false) {
      problems.push(`invariant ${invariantName(invariant, index)} broken after iteration ${view.iteration} (state ${JSON.stringify(state)})`);
      tell(problems.at(-1)!);
    }
  });
}

function invariantName(invariant: Invariant<never>, index: number): string {
  return invariant.name !== '' ? `"${invariant.name}"` : `#${index + 1}`;
}

/** What an invariant sees of the run. */
function runView(host: RunHost, previousState: JsonValue): RunView {
  const context = host.state.run!.context;
  const tasks: Record<string, TaskStatus> = {};
  for (const entry of tasksInOrder(context)) tasks[entry.spec.id] = entry.status;
  return { status: context.status, iteration: context.iteration, previousState, tasks };
}

/** The run ended: a FAILED run is a problem when the campaign, not a task, failed it. */
function endOf(status: RunStatus, reason: string | null, thrown: string | undefined, problems: string[], tell: (line: string) => void): void {
  const why = reason ?? '';
  if (status === 'FAILED' && /^(campaign failed|invalid workflow from the campaign|campaign planned more than maxIterations)/.test(why)) {
    problems.push(campaignProblem(thrown ?? why));
    tell(problems[0]!);
    return;
  }
  tell(`the run ended ${status}${why !== '' ? `: ${why}` : ''}`);
}

/** A campaign failure worded for the story: what threw, an invalid plan, a call that hung, or a plan that never stops. */
function campaignProblem(text: string): string {
  if (/INVALID_WORKFLOW/.test(text)) return `plan returned an invalid workflow: ${text.replace(/^.*?INVALID_WORKFLOW: /, '')}`;
  if (/maxIterations/.test(text)) return `the campaign did not converge: ${text}`;
  const hung = /(plan|analyze) did not return within \d+ ms/.exec(text);
  if (hung !== null) return `${hung[0]} (a promise that never settles, or a call longer than the check's callTimeoutMs)`;
  if (/not JSON-serialisable/.test(text)) return `the state is not JSON: ${text.replace(/^.*?CAMPAIGN_ERROR: /, '')}`;
  return text.replace(/^campaign failed: /, '');
}

/** The run command a drawn command choice stands for, or none when it has no target now. */
function commandOf(choice: CommandChoice, host: RunHost): RunCommand[] {
  const by = 'matterstack check';
  switch (choice.verb) {
    case 'pause':
      return [{ type: 'CMD.PAUSE', by }];
    case 'resume':
      return [{ type: 'CMD.RESUME', by }];
    case 'cancel':
      return [{ type: 'CMD.CANCEL', by }];
    case 'cancel-attempt': {
      const active = [...host.state.attempts].filter(([, snapshot]) => isWatchable(snapshot)).map(([id]) => id);
      return active.length === 0 ? [] : [{ type: 'CMD.CANCEL_ATTEMPT', attemptId: active[choice.pick % active.length]!, by }];
    }
    case 'rerun': {
      const done = [...tasksInOrder(host.state.run!.context)].filter((entry) => TERMINAL_TASK_STATUSES.includes(entry.status)).map((entry) => entry.spec.id);
      return done.length === 0 ? [] : [{ type: 'CMD.RERUN', taskId: done[choice.pick % done.length]!, recursive: false, by }];
    }
  }
}

const VERBS: Record<RunCommand['type'], string> = {
  'CMD.PAUSE': 'pause',
  'CMD.RESUME': 'resume',
  'CMD.CANCEL': 'cancel',
  'CMD.REVIVE': 'revive',
  'CMD.RERUN': 'rerun',
  'CMD.CANCEL_ATTEMPT': 'cancel-attempt',
  'CMD.APPROVE': 'approve',
  'CMD.REJECT': 'reject',
};

/** Delivers a command as `matterstack <verb>` would; the story tells the accepted ones (and gate decisions refused for their data). */
async function sendCommand(host: RunHost, command: RunCommand, tell: (line: string) => void): Promise<void> {
  const { appended } = await host.deliver({ actor: 'run', event: command });
  const outcome = appended.flatMap((record) => record.changes).find((change) => change.kind === 'command');
  const verb = VERBS[command.type];
  const target = 'taskId' in command ? ` ${command.taskId}` : 'attemptId' in command ? ` ${command.attemptId}` : '';
  if (outcome?.kind !== 'command') return;
  const decision = command.type === 'CMD.APPROVE' || command.type === 'CMD.REJECT' ? command : undefined;
  if (outcome.accepted && decision === undefined) tell(`${verb}${target}`);
  if (outcome.accepted && decision !== undefined) tell(`${decision.taskId} ${verb === 'approve' ? 'approved' : 'rejected'}${decision.data === undefined ? '' : ` with ${JSON.stringify(decision.data)}`}`);
  // A gate cancelled or rerun meanwhile is no news; data the gate refuses is.
  if (!outcome.accepted && decision !== undefined && outcome.code !== 'GATE_NOT_WAITING') tell(`${verb}${target} refused: ${outcome.code ?? ''} ${outcome.reason ?? ''}`.trim());
}
