// @ts-check
// The launcher process of the local operator (started by launcher-client.ts, one per orchestrator
// process): it starts each attempt's command as its own child, in its own session and process
// group, and records the start and exit markers. It runs detached from the orchestrator and
// outlives it (kill -9 included) until every command it started has ended, so an exit code is
// recorded whoever is left to read it.
//
// Why a process of its own, in plain JavaScript with nothing but Node's own modules: a fork copies
// the page tables of the process that forks, and Node's spawn waits for the child's exec. From the
// orchestrator each start cost milliseconds of its CPU and stalled its event loop; from this
// process (half the memory of one running TypeScript through tsx, which would also double its
// start) it costs the least Node allows, elsewhere. The line protocol is launcher-protocol.ts
// (whose schemas check the replies on the orchestrator's side); requests are checked here by hand.
// The file names are local-attempt-files.ts's LOCAL_FILES (tests/operators.local.test.ts keeps them equal).
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const FILES = {
  claim: '.matterstack/claim',
  started: '.matterstack/started.json',
  exitCode: '.matterstack/exit_code',
  killed: '.matterstack/killed.json',
  stdout: 'stdout.log',
  stderr: 'stderr.log',
};

/** @typedef {{ id: number, dir: string, argv: string[], env: Record<string, string>, cgroup: string | null }} LaunchRequest */

/** The /proc start time of `pid` (clock ticks since boot: with the pid, it names one process), or null. */
function procStartTime(/** @type {number} */ pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const value = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/** This process's cgroup v2 directory (where it returns after a start in an attempt's cgroup), or null. */
function ownCgroupDir() {
  try {
    const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((line) => line.startsWith('0::'));
    const mount = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' - '))
      .find(([, right]) => right?.startsWith('cgroup2 '))?.[0]
      ?.split(' ')[4];
    return own === undefined || mount === undefined ? null : path.join(mount, own.slice(3));
  } catch {
    return null;
  }
}

/** Moves this process into cgroup `dir` (a fork then starts there); false when it cannot. */
function joinCgroup(/** @type {string} */ dir) {
  try {
    writeFileSync(path.join(dir, 'cgroup.procs'), `${process.pid}\n`);
    return true;
  } catch {
    return false;
  }
}

/** Replaces `file` through a temporary file and a rename: readers see the old content or the new, never a part. */
function replaceFile(/** @type {string} */ file, /** @type {string} */ content) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/** A well-formed launch request, or null. */
function asRequest(/** @type {unknown} */ value) {
  const r = /** @type {Partial<LaunchRequest> | null} */ (value);
  if (r === null || typeof r !== 'object' || !Number.isInteger(r.id) || typeof r.dir !== 'string' || r.dir === '') return null;
  if (!Array.isArray(r.argv) || r.argv.length === 0 || !r.argv.every((a) => typeof a === 'string')) return null;
  if (r.env === null || typeof r.env !== 'object' || !Object.values(r.env).every((v) => typeof v === 'string')) return null;
  if (r.cgroup !== null && typeof r.cgroup !== 'string') return null;
  return /** @type {LaunchRequest} */ (r);
}

const home = ownCgroupDir();
const self = { pid: process.pid, procStartTime: procStartTime(process.pid) };
let running = 0;
let inputClosed = false;

function reply(/** @type {object} */ message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function exitWhenIdle() {
  if (inputClosed && running === 0) process.exit(0);
}

/** Records the exit marker, then says so (the marker first: whoever hears of the exit can read it). */
function recordExit(/** @type {string} */ dir, /** @type {number} */ code) {
  replaceFile(path.join(dir, FILES.exitCode), `${code}\n`);
  reply({ kind: 'exited', dir, code });
}

/** Forks the command, in the attempt's cgroup when it has one: this process joins it for the fork, then returns home. */
function forkCommand(/** @type {LaunchRequest} */ request, /** @type {number} */ out, /** @type {number} */ err) {
  const joined = request.cgroup !== null && home !== null && joinCgroup(request.cgroup);
  try {
    // Own session and process group: the task outlives us, and a group kill reaches its children.
    return spawn(request.argv[0] ?? '', request.argv.slice(1), { cwd: request.dir, detached: true, stdio: ['ignore', out, err], env: request.env });
  } finally {
    // Staying would put this launcher under the attempt's cgroup.kill.
    if (joined && home !== null && !joinCgroup(home)) process.stderr.write(`matterstack launcher: could not leave cgroup ${request.cgroup}\n`);
  }
}

function launch(/** @type {LaunchRequest} */ request) {
  const { id, dir } = request;
  const marker = (/** @type {string} */ name) => path.join(dir, name);
  try {
    // mkdir is atomic: of two launches of one attempt (a restart racing a slow start), exactly one runs the command.
    mkdirSync(marker(FILES.claim));
  } catch (error) {
    const claimed = /** @type {NodeJS.ErrnoException} */ (error).code === 'EEXIST';
    return reply({ kind: 'not-started', id, dir, why: claimed ? 'claimed' : 'failed', message: String(error) });
  }
  if (existsSync(marker(FILES.killed))) return reply({ kind: 'not-started', id, dir, why: 'cancelled', message: 'cancelled before it started' });
  const out = openSync(marker(FILES.stdout), 'a');
  const err = openSync(marker(FILES.stderr), 'a');
  let child;
  try {
    child = forkCommand(request, out, err);
  } finally {
    closeSync(out);
    closeSync(err);
  }
  running += 1;
  let ended = false;
  const end = (/** @type {() => void} */ record) => {
    if (ended) return;
    ended = true;
    running -= 1;
    record();
    exitWhenIdle();
  };
  // A command that cannot be executed ends as a shell reports it: why on stderr, 127 (not found) or 126.
  child.once('error', (error) =>
    end(() => {
      appendFileSync(marker(FILES.stderr), `matterstack: cannot run ${request.argv[0]}: ${error.message}\n`);
      recordExit(dir, /** @type {NodeJS.ErrnoException} */ (error).code === 'ENOENT' ? 127 : 126);
    }),
  );
  // Ended by signal n: 128 + n, as a shell reports it.
  child.once('exit', (code, signal) => end(() => recordExit(dir, code ?? 128 + (signal === null ? 0 : constants.signals[signal]))));
  const pid = child.pid;
  if (pid === undefined) return reply({ kind: 'not-started', id, dir, why: 'unrunnable', message: `cannot run ${request.argv[0]}` });
  const started = { pid, procStartTime: procStartTime(pid), startedAt: new Date().toISOString(), launcher: self };
  replaceFile(marker(FILES.started), `${JSON.stringify(started)}\n`);
  // A cancel that wrote its marker after the check above saw no start marker, so it killed nothing:
  // the command is ended here. One of the two always sees the other's marker.
  if (existsSync(marker(FILES.killed))) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  reply({ kind: 'started', id, dir, started });
}

if (process.argv[2] === 'serve') {
  // The orchestrator may be gone (kill -9): its replies and our warnings have nowhere to go, the commands go on.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let request = null;
    try {
      request = asRequest(JSON.parse(line));
    } catch {
      // Not JSON: refused below like any other malformed request.
    }
    if (request === null) {
      process.stderr.write(`matterstack launcher: refusing a line that is not a launch request: ${line.slice(0, 200)}\n`);
      return;
    }
    try {
      launch(request);
    } catch (error) {
      reply({ kind: 'not-started', id: request.id, dir: request.dir, why: 'failed', message: String(error) });
    }
  });
  lines.on('close', () => {
    inputClosed = true;
    exitWhenIdle();
  });
}
