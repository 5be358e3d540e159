import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonValue } from '../events/json.ts';
import { killAttemptProcesses } from '../operators/process-group.ts';
import { timeoutError, type CampaignCall } from './campaign-call.ts';
import { campaignError } from './campaign-module.ts';
import type { CampaignRequest } from './campaign-protocol.ts';
import { parseCommandReply } from './command-reply.ts';

/** The folder of `matterstack_campaign.py`, put on the PYTHONPATH of every campaign command. */
export const PYTHON_HELPER_DIR = fileURLToPath(new URL('./python/', import.meta.url));
/** A reply larger than this is refused (V8's longest string is ~512 MiB; a 100k-task workflow is ~25 MB). */
const MAX_STDOUT_BYTES = 256 * 1024 * 1024;
/** The end of stderr kept for the failure reason. */
const STDERR_TAIL_BYTES = 64 * 1024;
/** Lines of stderr quoted in a failure (a Python traceback's last frame and its exception). */
const STDERR_LINES = 3;
const STDERR_LINE_CHARS = 300;
/** Orchestrator variables a campaign process never sees: credentials of the NATS users. */
const SECRET_NAME = /^(MATTERSTACK_NATS_(URL|USER|PASS)|.*_PASSWORD)$/;

/** What one campaign process did. */
type Outcome =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { kind: 'timeout' }
  | { kind: 'unstartable'; error: Error }
  | { kind: 'too-big' };

/** The environment of a campaign process: the orchestrator's without its secrets, the helper on PYTHONPATH. */
export function campaignProcessEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(from)) if (value !== undefined && !SECRET_NAME.test(key)) env[key] = value;
  env.PYTHONPATH = from.PYTHONPATH ? `${PYTHON_HELPER_DIR}${path.delimiter}${from.PYTHONPATH}` : PYTHON_HELPER_DIR;
  return env;
}

/** The last lines of stderr, on one line (reasons are shown on one line by status and explain). */
function stderrTail(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  const shown = lines.slice(-STDERR_LINES).map((line) => (line.length > STDERR_LINE_CHARS ? `${line.slice(0, STDERR_LINE_CHARS)}…` : line));
  return shown.length === 0 ? ' (nothing on stderr)' : `: ${shown.join(' | ')}`;
}

/**
 * A campaign in any language: one process per call, started with `command` in the workspace
 * folder, the request as JSON on its stdin, the reply as JSON on its stdout (campaign-protocol.ts,
 * README "Campaigns in Python and other languages"). The process runs in a session of its own: a
 * call past the timeout, or a host that closes, kills it and everything it started. A non-zero
 * exit fails the call with the last lines of stderr (a Python traceback's exception).
 */
export class CommandCampaign {
  private nextId = 1;
  private readonly running = new Set<number>();

  constructor(
    private readonly name: string,
    private readonly command: readonly [string, ...string[]],
    private readonly cwd: string,
    private readonly timeoutMs: number,
  ) {}

  /** Runs the command for one call; resolves with the value it replied. */
  async call(call: CampaignCall): Promise<JsonValue> {
    const request = { ...call, id: this.nextId++ } as CampaignRequest;
    const outcome = await this.run(JSON.stringify(request));
    const shown = this.command.join(' ');
    const failed = (message: string): never => {
      throw campaignError(this.name, `${request.method} failed: ${message}`);
    };
    switch (outcome.kind) {
      case 'timeout':
        throw timeoutError(this.name, request.method, this.timeoutMs, `${shown} and its processes were killed`);
      case 'unstartable':
        return failed(`cannot start ${shown}: ${outcome.error.message}`);
      case 'too-big':
        return failed(`${shown} wrote more than ${MAX_STDOUT_BYTES} bytes on stdout; it was killed`);
      case 'exited':
        if (outcome.signal !== null) failed(`${shown} was killed by ${outcome.signal}${stderrTail(outcome.stderr)}`);
        if (outcome.code !== 0) failed(`${shown} exited with code ${outcome.code}${stderrTail(outcome.stderr)}`);
        return parseCommandReply(this.name, request, outcome.stdout);
    }
  }

  /** Kills the processes of calls still out (their calls fail). */
  async close(): Promise<void> {
    await Promise.all([...this.running].map((pid) => killAttemptProcesses({ pgid: pid, cgroup: null }, 0)));
  }

  private run(input: string): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const [file, ...args] = this.command;
      // detached: a session and process group of its own, so a timeout kills what it started too.
      const child = spawn(file, args, { cwd: this.cwd, env: campaignProcessEnv(), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = '';
      let ended: Outcome | undefined;
      const pid = child.pid;
      const kill = (): void => {
        if (pid !== undefined) void killAttemptProcesses({ pgid: pid, cgroup: null }, 0);
      };
      const timer = setTimeout(() => {
        ended ??= { kind: 'timeout' };
        kill();
      }, this.timeoutMs);
      if (pid !== undefined) this.running.add(pid);
      child.on('error', (error) => {
        // Only a failed spawn has no pid; other errors (a signal that could not be sent) end in 'close'.
        if (pid !== undefined) return;
        clearTimeout(timer);
        resolve({ kind: 'unstartable', error });
      });
      // A campaign that exits without reading its request closes the pipe: not our failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
      child.stdout.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (stdoutBytes > MAX_STDOUT_BYTES) {
          ended ??= { kind: 'too-big' };
          kill();
          return;
        }
        if (ended === undefined) stdout.push(chunk);
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (pid !== undefined) this.running.delete(pid);
        resolve(ended ?? { kind: 'exited', code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr });
      });
    });
  }
}
