import path from 'node:path';
import fc from 'fast-check';
import type { AnyCampaign, Campaign } from '../campaign/campaign.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { errorMessage, isMatterStackError } from '../events/errors.ts';
import type { JsonValue } from '../events/json.ts';
import type { TaskSpec } from '../events/workflow.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { checkedObject, checkedWorkspace, type CheckedCampaign } from './checked-campaign.ts';
import { CoverageCounter, type TransitionCoverage } from './coverage.ts';
import { writeFailureLog, type FailureLog } from './failure-log.ts';
import { SCENARIO_SCRIPT, type ResultsArbitrary } from './outcomes.ts';
import { resultsFromSchemas } from './schema-arbitrary.ts';
import { runScenario, type Invariant, type ScenarioOutcome, type ScenarioSetup } from './scenario.ts';

/** What to check and how hard. */
export interface CheckCampaignOptions<State = JsonValue, Data = JsonValue> {
  /** The campaign object to check; else the campaign of `workspace`. */
  campaign?: Campaign<State, Data>;
  /** The workspace folder: its operators.yaml (operators, caps) and, without `campaign`, its campaign file. */
  workspace?: string;
  /** The name recorded as the run's workspace (default: the folder's name, else "check"). */
  name?: string;
  /** Scenarios to run (default 100). */
  runs?: number;
  /** fast-check's seed: the same seed runs the same scenarios and shrinks to the same one. */
  seed?: number;
  /** The data a task that completes reports (its results.json, an external response): an arbitrary per task; else drawn from the task's resultsSchema; else none. */
  results?: (task: TaskSpec) => fc.Arbitrary<Data> | undefined;
  /** The data a person approves or rejects a gate with: an arbitrary per gate, or none. */
  gateData?: (task: TaskSpec) => fc.Arbitrary<JsonValue> | undefined;
  /** The campaign's own properties, checked after every analyze: false or a throw breaks one. */
  invariants?: readonly Invariant<State>[];
  /** The run's cap on planned workflows (default: the campaign's maxIterations, else 50): a plan that never returns null fails at it. */
  maxIterations?: number;
  /** Cycles a scenario may take before it fails as stuck (default 20 per iteration + 100). */
  maxCycles?: number;
  /** How long one plan or analyze call may take before the scenario fails as hung (default 10 000 ms). */
  callTimeoutMs?: number;
  /** Where the failing scenario's log is written (a new workspaces root under it; default: the system's temporary folder). */
  logDir?: string;
}

/** The smallest failing scenario fast-check found. */
export interface CheckFailure {
  /** What happened, step by step (`screen_E03 FAILED (exit 1)`, `analyze threw TypeError: …`). */
  story: string[];
  /** What the check found wrong. */
  problems: string[];
  /** How many smaller scenarios fast-check tried to reach this one. */
  shrinks: number;
  /** The failing scenario's log (none when it failed before anything was logged). */
  log?: FailureLog;
}

/** What `checkCampaign` found. */
export interface CheckReport {
  ok: boolean;
  name: string;
  /** Scenarios run (shrinking included). */
  scenarios: number;
  seed: number;
  failure?: CheckFailure;
  coverage: TransitionCoverage;
}

/** Scenarios by default. */
export const DEFAULT_RUNS = 100;
const DEFAULT_MAX_ITERATIONS = 50;
/** A plan or analyze call longer than this is taken as hung: a check must end, whatever the campaign awaits. */
const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/**
 * Model-based property test of a campaign: runs scenarios in which fast-check chooses how each
 * attempt ends (completed with drawn results, failed, timed out, lost), how people answer gates,
 * and which commands they send, through the real machines and host on an in-memory log. Each
 * scenario must end (COMPLETED, FAILED by a task, CANCELLED, or resting at a gate), with plan and
 * analyze never throwing, every plan valid, the state JSON and the invariants holding. A failure is
 * shrunk, told as a story and written as a log `matterstack replay --verify` accepts. Throws
 * VALIDATION_FAILED when a task's resultsSchema (drawn from without a `results` arbitrary) uses a keyword the generator does not know.
 * @example const report = await checkCampaign({ campaign, runs: 200, invariants: [(s) => s.best >= 0] });
 */
export async function checkCampaign<State = JsonValue, Data = JsonValue>(options: CheckCampaignOptions<State, Data>): Promise<CheckReport> {
  const workspaceDir = path.resolve(options.workspace ?? process.cwd());
  const name = options.name ?? (options.workspace !== undefined ? path.basename(workspaceDir) : 'check');
  const timeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const campaign = await campaignOf(options.campaign as AnyCampaign | undefined, workspaceDir, name, timeoutMs);
  try {
    const maxIterations = options.maxIterations ?? campaign.loaded.maxIterations ?? DEFAULT_MAX_ITERATIONS;
    const setup: ScenarioSetup = {
      workspace: name,
      workspaceDir,
      config: loadOperatorsConfig(options.workspace !== undefined ? { workspaceDir } : {}),
      campaign,
      maxIterations,
      maxCycles: options.maxCycles ?? 20 * maxIterations + 100,
      results: resultsOf(options.results as ResultsArbitrary | undefined),
      ...(options.gateData ? { gateData: memoized(options.gateData) } : {}),
      invariants: (options.invariants ?? []) as readonly Invariant<never>[],
    };
    return await check(setup, name, options);
  } finally {
    await campaign.loaded.close();
  }
}

/**
 * The user's arbitrary of each task, made once: fast-check's `gen` replays a shrunk value only for
 * the same arbitrary object, and `(task) => fc.record(…)` makes a new one per call (shrinking would
 * then draw afresh forever).
 */
function memoized(source: ResultsArbitrary): ResultsArbitrary {
  const made = new Map<string, ReturnType<ResultsArbitrary>>();
  return (task) => {
    const key = `${task.kind}:${task.id}`;
    if (!made.has(key)) made.set(key, source(task));
    return made.get(key);
  };
}

/** The user's arbitrary for a task, else one drawn from the task's resultsSchema, else none. */
function resultsOf(user: ResultsArbitrary | undefined): ResultsArbitrary {
  const fromSchema = resultsFromSchemas();
  if (user === undefined) return fromSchema;
  const own = memoized(user);
  return (task) => own(task) ?? fromSchema(task);
}

function campaignOf(campaign: AnyCampaign | undefined, workspaceDir: string, name: string, timeoutMs: number): Promise<CheckedCampaign> {
  if (campaign !== undefined) return checkedObject(name, campaign, timeoutMs);
  return checkedWorkspace(workspaceDir, name, timeoutMs);
}

async function check(setup: ScenarioSetup, name: string, options: Pick<CheckCampaignOptions, 'runs' | 'seed' | 'logDir'>): Promise<CheckReport> {
  const coverage = new CoverageCounter();
  // One in-memory log for every scenario, a run each: opening a database per scenario cost more than most scenarios.
  const log = SqliteEventLog.open(':memory:');
  let failing: ScenarioOutcome | undefined;
  // A resultsSchema nothing can be drawn from is the check's setup failing, not a scenario: every further one is skipped and checkCampaign throws it.
  let unusable: unknown;
  let scenarios = 0;
  const property = fc.asyncProperty(SCENARIO_SCRIPT, fc.gen(), async (script, g) => {
    if (unusable !== undefined) return true;
    scenarios += 1;
    let outcome: ScenarioOutcome;
    try {
      outcome = await runScenario(setup, script, (arbitrary) => g(() => arbitrary), log, `scenario-${scenarios}`);
    } catch (error) {
      if (!isMatterStackError(error, 'VALIDATION_FAILED')) throw error;
      unusable = error;
      return true;
    }
    await coverage.add(log.readRun(outcome.runId));
    if (outcome.problems.length === 0) return true;
    // The last failing scenario is the one shrinking ends with.
    failing = outcome;
    return false;
  });
  try {
    const details = await fc.check(property, { numRuns: options.runs ?? DEFAULT_RUNS, ...(options.seed !== undefined ? { seed: options.seed } : {}) });
    if (unusable !== undefined) throw unusable;
    const report: CheckReport = { ok: !details.failed, name, scenarios, seed: details.seed, coverage: coverage.report() };
    if (!details.failed) return report;
    if (failing === undefined) {
      report.failure = { story: [], problems: [`the check itself failed: ${errorMessage(details.errorInstance)}`], shrinks: details.numShrinks };
      return report;
    }
    const hasRecords = (await log.lastSeq(failing.runId)) > 0;
    const written = hasRecords ? await writeFailureLog(log, failing.runId, options.logDir) : undefined;
    report.failure = { story: failing.story, problems: failing.problems, shrinks: details.numShrinks, ...(written ? { log: written } : {}) };
    return report;
  } finally {
    await log.close();
  }
}

/** The report as a few lines: the verdict, the failing story and how to replay it, the transitions never tried. */
export function formatCheckReport(report: CheckReport, reproduce = `--seed ${report.seed}`): string {
  const lines: string[] = [];
  const { failure, coverage } = report;
  if (failure === undefined) lines.push(`${report.name}: ${report.scenarios} scenarios passed (seed ${report.seed})`);
  else {
    lines.push(`${report.name}: a scenario fails (seed ${report.seed}, after ${report.scenarios} scenarios, shrunk ${failure.shrinks} times):`);
    lines.push(`  ${failure.story.join(', then ') || '(no step)'}`);
    for (const problem of failure.problems) lines.push(`problem: ${problem}`);
    if (failure.log !== undefined) lines.push(`log: ${failure.log.root}`, `replay it: ${failure.log.replayCommand}`);
    lines.push(`reproduce: ${reproduce}`);
  }
  const total = coverage.exercised.length + coverage.missed.length;
  lines.push(`run machine transitions exercised: ${coverage.exercised.length} of ${total}`);
  for (const missed of coverage.missed) lines.push(`  never: ${missed}`);
  return lines.join('\n');
}
