import type { LogChunk, LogRequest } from '../../views/attempt-logs.ts';
import { sleepUnlessAborted } from '../../events/sleep.ts';
import { withLogReader, type LogReader } from '../attempt-log-reader.ts';
import { defineCommand, flag, requiredArg, stringOption, type CommandContext } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { parseId } from '../parse-id.ts';
import { UsageError } from '../usage-error.ts';

/** Lines shown without --all. */
const DEFAULT_LINES = 50;
/** How often -f asks for more while the attempt runs. */
const FOLLOW_POLL_MS = 500;

function linesOption(ctx: CommandContext): number {
  const value = stringOption(ctx, 'lines');
  if (value === undefined) return DEFAULT_LINES;
  const lines = Number(value);
  if (!Number.isInteger(lines) || lines < 1) throw new UsageError(`--lines must be a positive integer, got "${value}"`, 'logs');
  return lines;
}

/** `--attempt`: a number (1 = first attempt) or an attempt id. */
function attemptOption(ctx: CommandContext): number | string | undefined {
  const value = stringOption(ctx, 'attempt');
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < 1) throw new UsageError(`--attempt must be an attempt number (1 = first) or an attempt id, got "${value}"`, 'logs');
    return n;
  }
  return parseId('attempt id', value);
}

function describeAttempt(taskId: string, chunk: LogChunk): string {
  return `task ${taskId}, attempt ${chunk.attemptNumber} (${chunk.attemptId}, ${chunk.attemptStatus})`;
}

/** `logs <run> <task>`: an attempt's stdout or stderr — the tail, the whole log, or followed while the attempt runs. */
export const logsCommand = defineCommand({
  name: 'logs',
  summary: "an attempt's stdout or stderr (the tail, --all, or -f to follow it)",
  description: [
    "Prints the stdout (or with --stderr the stderr) of a task's latest attempt, or of --attempt N: its last",
    '50 lines (--lines N), the whole log with --all, and with -f keeps printing what the attempt writes until',
    'it ends (as the run\'s log records it). Local attempts: the files in the attempt folder; Slurm jobs: the',
    "job's output files, read on the cluster over SSH while the job runs. With --nats the worker hosting the",
    'run serves the log piece by piece (any NATS user, the viewer too), so a log of any size streams.',
    'The log goes to stdout byte for byte; which attempt and file it is goes to stderr.',
  ].join('\n'),
  group: 'views',
  args: [
    { name: 'run', required: true, description: 'the run id' },
    { name: 'task', required: true, description: 'the task id (see "matterstack status <run>")' },
  ],
  options: {
    attempt: { type: 'string', valueName: 'N', description: 'attempt number (1 = first; see "matterstack attempts") or attempt id (default: the latest)' },
    stderr: { type: 'boolean', description: 'the stderr instead of the stdout' },
    all: { type: 'boolean', description: 'the whole log, not only its last lines' },
    lines: { type: 'string', valueName: 'N', description: `how many last lines to show (default ${DEFAULT_LINES})` },
    follow: { type: 'boolean', short: 'f', description: 'keep printing what the attempt writes until it ends (Ctrl-C stops)' },
  },
  examples: ['logs r1 relax_001', 'logs r1 relax_001 --stderr --attempt 1 --all', 'logs r1 relax_001 -f', 'logs r1 relax_001 --all --nats nats://host:4222 --user viewer > relax.log'],
  notes: [
    'Exit 3 when the run, task or attempt does not exist; an attempt that has written nothing yet is said so on stderr (exit 0).',
    '--json (not with -f) prints {"attemptId","attemptNumber","attemptStatus","stream","where","size","offset","text"}.',
  ],
  async run(ctx) {
    const runId = parseId('run id', requiredArg(ctx, 'run'));
    const taskId = parseId('task id', requiredArg(ctx, 'task'));
    const follow = flag(ctx, 'follow');
    if (follow && ctx.global.json) throw new UsageError('--json cannot be combined with -f (a followed log has no end to print JSON at)', 'logs');
    const request = { taskId, stream: flag(ctx, 'stderr') ? ('stderr' as const) : ('stdout' as const), ...optionalAttempt(attemptOption(ctx)) };
    const start = flag(ctx, 'all') ? { offset: 0 } : { tailLines: linesOption(ctx) };
    return withLogReader(ctx, runId, (read) => (ctx.global.json ? printJson(ctx, read, request, start) : printLog(ctx, read, request, start, follow)));
  },
});

function optionalAttempt(attempt: number | string | undefined): { attempt?: number | string } {
  return attempt === undefined ? {} : { attempt };
}

type BaseRequest = Pick<LogRequest, 'taskId' | 'stream' | 'attempt'>;

/** Streams the log to stdout piece by piece; with `follow`, until the attempt has ended and everything it wrote is out. */
async function printLog(ctx: CommandContext, read: LogReader, base: BaseRequest, start: Pick<LogRequest, 'offset' | 'tailLines'>, follow: boolean): Promise<number> {
  let chunk = await read({ ...base, ...start });
  // Later pieces name the attempt: a rerun meanwhile must not switch logs halfway.
  const next = (offset: number): Promise<LogChunk> => read({ ...base, attempt: chunk.attemptId, offset });
  ctx.out.note(`${describeAttempt(base.taskId, chunk)} ${base.stream}: ${chunk.where}`);
  if (!follow && (chunk.size ?? 0) === 0) {
    ctx.out.note(chunk.ended ? `it wrote no ${base.stream}` : `no ${base.stream} yet (follow it with -f)`);
    return EXIT_CODES.OK;
  }
  for (;;) {
    await ctx.out.bytes(chunk.data);
    const offset = chunk.offset + chunk.data.length;
    // An empty piece before the end: the file shrank (replaced); stop rather than spin.
    if (chunk.size !== null && offset < chunk.size && chunk.data.length > 0) {
      chunk = await next(offset);
      continue;
    }
    if (!follow || chunk.ended) return EXIT_CODES.OK;
    await sleepUnlessAborted(FOLLOW_POLL_MS, ctx.signal);
    if (ctx.signal.aborted) return EXIT_CODES.INTERRUPTED;
    chunk = await next(offset);
  }
}

/** The log as one JSON document (text decoded as UTF-8). */
async function printJson(ctx: CommandContext, read: LogReader, base: BaseRequest, start: Pick<LogRequest, 'offset' | 'tailLines'>): Promise<number> {
  const first = await read({ ...base, ...start });
  const pieces = [first.data];
  let last = first;
  let offset = first.offset + first.data.length;
  while (last.size !== null && offset < last.size && last.data.length > 0) {
    last = await read({ ...base, attempt: first.attemptId, offset });
    pieces.push(last.data);
    offset += last.data.length;
  }
  const { data: _data, ended: _ended, ...meta } = first;
  ctx.out.data({ ...meta, size: last.size, text: Buffer.concat(pieces).toString('utf8') });
  return EXIT_CODES.OK;
}
