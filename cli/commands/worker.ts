import { runWorker, WORKER_COMMAND_NICE, type WorkerHandle } from '../../distributed/worker.ts';
import { isMatterStackError, MatterStackError } from '../../events/errors.ts';
import { isValidId } from '../../events/ids.ts';
import { configureLogging } from '../../events/logger.ts';
import { TASK_ENV_ALLOW_LIST } from '../../operators/task-env.ts';
import { defineCommand, positiveIntegerOption, stringOption } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { natsTarget } from '../nats-target.ts';
import { resolveRoot } from '../open-store.ts';
import { UsageError } from '../usage-error.ts';

const DAY_MS = 86_400_000;

/** `worker`: hosts runs on NATS JetStream and serves the commands sent to them, until stopped. */
/** The password: from the URL, else $MATTERSTACK_NATS_PASS, else $MS_ORCHESTRATOR_PASSWORD (never from argv: ps shows it). */
function passwordOf(fromUrl: string | undefined, env: NodeJS.ProcessEnv): { pass?: string } {
  const pass = fromUrl ?? env.MATTERSTACK_NATS_PASS ?? env.MS_ORCHESTRATOR_PASSWORD;
  return pass !== undefined ? { pass } : {};
}

/** Resolves once the worker has stopped after Ctrl-C (the command's signal) or SIGTERM; its runs stay resumable. */
function stopOnSignal(worker: WorkerHandle, interrupt: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      interrupt.removeEventListener('abort', stop);
      void worker.stop().finally(resolve);
    };
    process.on('SIGTERM', stop);
    if (interrupt.aborted) stop();
    else interrupt.addEventListener('abort', stop);
  });
}

/** `--nice N`: an integer 0-19 (default WORKER_COMMAND_NICE). */
function niceOption(value: string | undefined): number {
  if (value === undefined) return WORKER_COMMAND_NICE;
  if (!/^\d+$/.test(value) || Number(value) > 19) throw new UsageError(`--nice must be an integer from 0 to 19, got "${value}"`);
  return Number(value);
}

export const workerCommand = defineCommand({
  name: 'worker',
  summary: 'host runs on NATS and serve their commands (distributed mode)',
  description: [
    'Connects to NATS (--nats URL, required), then runs the campaigns whose log is on JetStream and',
    'answers the commands on ms.cmd.init and ms.cmd.<run>.<verb>, and on ms.as.<user>.cmd.… (what "matterstack … --nats URL" sends).',
    'Start several on one server to share the runs: each run is hosted by one worker at a time, and',
    'when a worker dies another takes its runs over within the lease TTL and continues them from the log.',
    'Every worker needs the same workspaces (--root): it loads the campaigns and attempt directories there.',
    'Prints "ready <worker-id>" once serving; on Ctrl-C or SIGTERM it drains: takes no more runs, finishes its',
    'appends, releases its leases and exits (within 10 s); other workers continue its runs from the log.',
    'Operators capped with max_concurrent count the attempts of every run on every worker (a semaphore in KV).',
    'Logs on stderr from level info (--log-level): JSON lines, readable ones on a terminal.',
  ].join('\n'),
  group: 'runs',
  args: [],
  options: {
    id: { type: 'string', valueName: 'ID', description: 'worker id (letters, digits, "_" or "-"; default: w-<host>-<pid>-<random>)' },
    'lease-ttl-ms': { type: 'string', valueName: 'MS', description: 'run lease TTL: a dead worker\'s runs are taken over within about this long (default 10000, min 500)' },
    replicas: { type: 'string', valueName: 'N', description: 'copies of the events stream and KV buckets it creates (default: the servers of the cluster, at most 3)' },
    'poll-ms': { type: 'string', valueName: 'MS', description: 'how often operators are polled for attempt progress (default: the operators\' own; at most a day)' },
    nice: { type: 'string', valueName: 'N', description: `CPU niceness (0-19) of the run stepping once the status thread answers, so status stays quick on a busy machine (default ${WORKER_COMMAND_NICE}; 0: unchanged)` },
  },
  examples: [
    'worker --nats nats://127.0.0.1:4222 --root ./workspaces   # as "orchestrator", password from $MS_ORCHESTRATOR_PASSWORD',
    'worker --nats nats://nats.lab:4222 --id w1   # password from $MS_ORCHESTRATOR_PASSWORD (never in argv: ps shows it)',
    'worker --user orchestrator --lease-ttl-ms 5000   # URL and password from $MATTERSTACK_NATS_URL, $MATTERSTACK_NATS_PASS',
    'worker --log-level debug 2>worker.log   # JSON lines (readable ones on a terminal) carrying workerId, runId, attemptId',
  ],
  notes: [
    'Credentials: user:pass in the URL, else --user NAME (default: $MATTERSTACK_NATS_USER, else orchestrator)\nwith the password in $MATTERSTACK_NATS_PASS (else $MS_ORCHESTRATOR_PASSWORD). The user needs the\norchestrator permissions of nats.conf (it appends events and manages the stream).',
    `Tasks never see these credentials. Of the worker's environment they get only\n${TASK_ENV_ALLOW_LIST},\nplus their own env and MATTERSTACK_* (README: Operators).`,
  ],
  async run(ctx) {
    const target = natsTarget(ctx);
    if (target === undefined) throw new UsageError('missing --nats URL (or MATTERSTACK_NATS_URL): a worker serves runs on NATS', 'worker');
    const root = resolveRoot(ctx);
    const id = stringOption(ctx, 'id');
    if (id !== undefined && !isValidId(id)) throw new UsageError(`--id "${id}" is not a valid worker id (1-64 letters, digits, "_" or "-")`, 'worker');
    const leaseTtlMs = positiveIntegerOption(ctx, 'lease-ttl-ms', { min: 500, max: DAY_MS, note: '(milliseconds)' });
    const pollMs = positiveIntegerOption(ctx, 'poll-ms', { min: 10, max: DAY_MS, note: '(milliseconds)' });
    const replicas = positiveIntegerOption(ctx, 'replicas', { min: 1, max: 5 });
    const nice = niceOption(stringOption(ctx, 'nice'));
    // A worker reports what it does: info unless --log-level / MATTERSTACK_LOG_LEVEL says otherwise.
    configureLogging({ level: ctx.global.logLevel ?? 'info' });
    let worker: WorkerHandle;
    try {
      worker = await runWorker({
        natsUrl: target.servers.join(','),
        user: target.user ?? ctx.env.MATTERSTACK_NATS_USER ?? 'orchestrator',
        ...passwordOf(target.pass, ctx.env),
        root,
        ...(id !== undefined ? { workerId: id } : {}),
        ...(leaseTtlMs !== undefined ? { leaseTtlMs } : {}),
        ...(replicas !== undefined ? { replicas } : {}),
        ...(pollMs !== undefined ? { operators: { pollIntervalMs: pollMs } } : {}),
        steppingNice: nice,
      });
    } catch (error) {
      if (isMatterStackError(error)) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw new MatterStackError('LOG_UNAVAILABLE', `worker could not start on NATS at ${target.display}: ${detail}`, { servers: target.display }, { cause: error });
    }
    ctx.out.write(`ready ${worker.workerId}\n`);
    await stopOnSignal(worker, ctx.signal);
    return EXIT_CODES.OK;
  },
});
