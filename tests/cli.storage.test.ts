import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli, type CliResult } from './harness/cli.ts';
import { dumpProjections } from './harness/projection-dump.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// Storage at the edges, through the real binary and real SQLite files: read commands in a root
// without a log, faults of the log file, a run folder left by a lost log, a failed append while
// `loop` runs, and a rebuild over a corrupt record.

const roots: TempRoot[] = [];
const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const undo of cleanups) undo();
  for (const root of roots) root.cleanup();
});
function newRoot(): TempRoot {
  const temp = tempRoot('ms-cli-storage-');
  roots.push(temp);
  return temp;
}

/** Timeout of these tests: each starts up to a dozen CLI processes (about a second each, several on a loaded machine). */
const CLI_HEAVY_MS = 180_000;

const ONE_TASK = oneWorkflowCampaign([{ id: 't', command: 'echo done > out.txt' }]);

function logFileOf(root: string): string {
  return path.join(root, '.matterstack', 'events.sqlite');
}

/** One `error: …` line on stderr, nothing on stdout. */
function expectOneErrorLine(result: CliResult, pattern: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
}

/** Every file under `dir` with a hash of its content (what "nothing changed" compares). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = entry.isFile() ? createHash('sha256').update(fs.readFileSync(full)).digest('hex') : 'dir';
  }
  return out;
}

/** Makes `file` unwritable even for root (chmod alone does not stop root): chattr +i where it exists. */
function makeReadOnly(file: string): boolean {
  fs.chmodSync(file, 0o444);
  if (process.getuid?.() !== 0) return true;
  try {
    execFileSync('chattr', ['+i', file], { stdio: 'ignore' });
  } catch {
    return false;
  }
  cleanups.push(() => execFileSync('chattr', ['-i', file], { stdio: 'ignore' }));
  return true;
}

/** A root with one run `r1` of workspace lab, driven to the end unless `drive` is false. */
async function finishedRun(drive = true): Promise<TempRoot> {
  const temp = newRoot();
  temp.workspace('lab', ONE_TASK);
  expect((await runCli(['init', 'lab', '--run-id', 'r1'], { root: temp.root })).code).toBe(0);
  if (drive) expect((await runCli(['loop', 'r1'], { root: temp.root })).code).toBe(0);
  return temp;
}

describe.concurrent('storage faults through the CLI: one line naming the file, a storage exit code, nothing changed', { timeout: CLI_HEAVY_MS }, () => {
  it('read commands in a root without a log fail and create no .matterstack/', async () => {
    const { root } = newRoot();
    const results = await Promise.all([
      runCli(['list'], { root }),
      runCli(['status', 'r1'], { root }),
      runCli(['replay', 'r1'], { root }),
      runCli(['explain', 'r1'], { root }),
      runCli(['attempts', 'r1', 't'], { root }),
    ]);
    const [list, ...onRun] = results;
    expect(list?.code).toBe(3);
    expectOneErrorLine(list!, /no runs under .*: it has no \.matterstack\/ folder/);
    for (const result of onRun) {
      expect(result.code).toBe(3);
      expectOneErrorLine(result, /^error: run r1 not found\n$/);
    }
    expect(fs.existsSync(path.join(root, '.matterstack'))).toBe(false);
  });

  it('a log that is random bytes, malformed or a folder: exit 12 naming the file and what to do, nothing changed', async () => {
    const cases: [string, (file: string) => void, RegExp][] = [
      ['random bytes', (file) => fs.writeFileSync(file, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256))), /not a SQLite database .*restore the file from a backup or move it away/],
      ['truncated', (file) => {
        const bytes = fs.readFileSync(file);
        fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      }, /malformed .*restore the file from a backup or move it away/],
      ['a folder', (file) => {
        fs.rmSync(file);
        fs.mkdirSync(file);
      }, /cannot be opened .*check that it is a file \(not a folder\)/],
    ];
    await Promise.all(cases.map(async ([, damage, pattern]) => {
      const temp = await finishedRun(false);
      const file = logFileOf(temp.root);
      // A log of a few pages, so that half of it is a malformed database rather than an empty one.
      const db = new Database(file);
      db.prepare(
        `WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 300)
         INSERT INTO events (run_id, seq, event_id, type, actor, time, payload, changes, schema_version)
         SELECT 'pad', v, 'pad-' || v, 'PAD', 'run', 'now', ?, '[]', 1 FROM n`,
      ).run('x'.repeat(200));
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      for (const extra of ['-wal', '-shm']) fs.rmSync(file + extra, { force: true });
      damage(file);
      const before = snapshot(temp.root);
      const commands = [['status', 'r1'], ['list'], ['pause', 'r1']];
      const results = await Promise.all(commands.map((args) => runCli(args, { root: temp.root })));
      for (const result of results) {
        expect(result.code, result.stderr).toBe(12);
        expectOneErrorLine(result, new RegExp(`event log ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
        expectOneErrorLine(result, pattern);
      }
      expect(snapshot(temp.root)).toEqual(before);
    }));
  });

  it('projections that are not a database: exit 12 naming them and saying to delete them; once deleted, the log refolds them', async () => {
    const temp = await finishedRun(false);
    const projections = path.join(temp.root, '.matterstack', 'projections.sqlite');
    for (const suffix of ['-wal', '-shm']) fs.rmSync(projections + suffix, { force: true });
    fs.writeFileSync(projections, 'not a database at all, but long enough to have a header '.repeat(20));
    const broken = await runCli(['status', 'r1'], { root: temp.root });
    expect(broken.code).toBe(12);
    expectOneErrorLine(broken, new RegExp(`projections ${projections}: not a SQLite database .*; delete it: the next command folds the event log into a new one`));
    fs.rmSync(projections);
    const status = await runCli(['status', 'r1', '--json'], { root: temp.root });
    expect(status.json<{ status: string }>().status).toBe('PENDING');
  });

  it('a read-only log: a write command exits 12 naming the file, the log is unchanged, reads still work', async (ctx) => {
    const temp = await finishedRun(false);
    const file = logFileOf(temp.root);
    const before = fs.readFileSync(file);
    if (!makeReadOnly(file)) ctx.skip();
    const [pause, init] = await Promise.all([runCli(['pause', 'r1'], { root: temp.root }), runCli(['init', 'lab', '--run-id', 'r2'], { root: temp.root })]);
    for (const result of [pause, init]) {
      expect(result.code, result.stderr).toBe(12);
      expectOneErrorLine(result, new RegExp(`event log ${file}: read-only .*make the file and its folder writable`));
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    const status = await runCli(['status', 'r1', '--json'], { root: temp.root });
    expect(status.json<{ status: string }>().status).toBe('PENDING');
  });
});

describe.concurrent('a run id is never adopted silently', { timeout: CLI_HEAVY_MS }, () => {
  it('after the log was lost: list and status name the missing log, init refuses the old run folder, and an empty new log is named too', async () => {
    const temp = await finishedRun();
    const file = logFileOf(temp.root);
    const runDir = path.join(temp.root, 'lab', 'runs', 'r1');
    expect(fs.existsSync(runDir)).toBe(true);
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });

    const [list, status] = await Promise.all([runCli(['list', '--all'], { root: temp.root }), runCli(['status', 'r1'], { root: temp.root })]);
    for (const result of [list, status]) {
      expect(result.code).toBe(12);
      expectOneErrorLine(result, new RegExp(`event log ${file} is missing while the projections .* remain`));
    }
    expect(fs.existsSync(file)).toBe(false);

    const before = snapshot(temp.root);
    const reused = await runCli(['init', 'lab', '--run-id', 'r1'], { root: temp.root });
    expect(reused.code).toBe(4);
    expectOneErrorLine(reused, new RegExp(`run r1: its folder ${runDir} already exists`));
    expect(snapshot(temp.root)).toEqual(before);

    // A new run creates a new (otherwise empty) log: the projections still hold r1, which it lacks.
    expect((await runCli(['init', 'lab', '--run-id', 'r2'], { root: temp.root })).code).toBe(0);
    const again = await Promise.all([['list'], ['status', 'r1'], ['attempts', 'r1', 't']].map((args) => runCli(args, { root: temp.root })));
    for (const result of again) {
      expect(result.code).toBe(12);
      expectOneErrorLine(result, new RegExp(`hold 1 run\\(s\\) the event log ${file} does not have \\(r1\\): the log is missing or empty`));
    }
    expect((await runCli(['projections', 'rebuild'], { root: temp.root })).code).toBe(0);
    const runs = (await runCli(['list', '--all', '--json'], { root: temp.root })).json<{ runId: string }[]>();
    expect(runs.map((run) => run.runId)).toEqual(['r2']);
  });

  it('projections rebuild fails on a record it cannot decode, naming run and sequence, and leaves the projections as they were', async () => {
    const temp = await finishedRun();
    const projectionsFile = path.join(temp.root, '.matterstack', 'projections.sqlite');
    const dump = (): Record<string, unknown[]> => {
      const db = new Database(projectionsFile, { readonly: true });
      try {
        return dumpProjections(db);
      } finally {
        db.close();
      }
    };
    const before = dump();
    const corrupt = async (column: string, seq: number): Promise<void> => {
      const log = new Database(logFileOf(temp.root));
      log.prepare(`UPDATE events SET ${column} = '{"kind": broken' WHERE run_id = 'r1' AND seq = ?`).run(seq);
      log.close();
      const rebuild = await runCli(['projections', 'rebuild'], { root: temp.root });
      expect(rebuild.code).toBe(8);
      expectOneErrorLine(rebuild, new RegExp(`invalid record in the event log: run r1 seq ${seq}: ${column}: not JSON`));
      expect(dump()).toEqual(before);
    };
    await corrupt('payload', 3);
    await corrupt('changes', 2);
  });
});

/** A tiny tmpfs mounted at `dir` (root only), unmounted after the tests; false where mounting is not allowed. */
function mountTinyTmpfs(dir: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  cleanups.unshift(() => execFileSync('umount', ['-l', dir], { stdio: 'ignore' }));
  return true;
}

/** Writes `file` until its file system is full. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [65_536, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch {
          // ENOSPC: the disk is full, which is what this loop is for.
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A run whose one task writes `started`, then waits for `go`; `release()` lets it end. */
function waitingTask(temp: TempRoot): { release(): void; running(file: string): boolean } {
  const started = path.join(temp.root, 'started');
  const go = path.join(temp.root, 'go');
  temp.workspace('lab', oneWorkflowCampaign([{ id: 't', command: `touch ${started}; while [ ! -e ${go} ]; do sleep 0.05; done; echo done > out.txt` }]));
  return {
    release: () => fs.writeFileSync(go, ''),
    // The attempt is RUNNING in the log: only its end is left to append.
    running: (file) => {
      if (!fs.existsSync(started)) return false;
      const reader = new Database(file, { readonly: true });
      try {
        return reader.prepare("SELECT 1 FROM events WHERE changes LIKE '%attempt.status%RUNNING%'").get() !== undefined;
      } finally {
        reader.close();
      }
    },
  };
}

describe.concurrent('a failed append stops loop with a storage error; loop again resumes', { timeout: CLI_HEAVY_MS }, () => {
  it('disk full while a task runs: exit 12 naming the log and the cause, then loop completes the run', async (ctx) => {
    const temp = newRoot();
    const { root } = temp;
    if (!mountTinyTmpfs(path.join(root, '.matterstack'))) ctx.skip();
    const task = waitingTask(temp);
    expect((await runCli(['init', 'lab', '--run-id', 'full'], { root })).code).toBe(0);
    const file = logFileOf(root);
    const loop = startCli(['loop', 'full'], { root });
    cleanups.unshift(() => loop.child.kill('SIGKILL'));
    await vi.waitFor(() => expect(task.running(file), 'the task to run').toBe(true), { timeout: 15_000 });
    const filler = path.join(root, '.matterstack', 'filler');
    fillUp(filler);
    task.release();
    const stopped = await loop.done;
    fs.rmSync(filler);
    expect(stopped.code, stopped.stderr).toBe(12);
    // The log's append or the projections' write meets the full disk first: either is named.
    expect(stopped.stderr).toMatch(new RegExp(`^error: (event log ${file}|projections ${path.join(root, '.matterstack', 'projections.sqlite')}): the disk is full \\(SQLITE_FULL[^)]*\\); free space on its disk[^\\n]*\\n$`));

    const resumed = await runCli(['loop', 'full'], { root });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('run full ended COMPLETED');
  });

  it('log locked past the busy timeout while a task runs: exit 12 naming the file and the cause, then loop completes the run', async () => {
    const temp = newRoot();
    const task = waitingTask(temp);
    const { root } = temp;
    expect((await runCli(['init', 'lab', '--run-id', 'locked'], { root })).code).toBe(0);
    const file = logFileOf(root);
    const env = { MATTERSTACK_BUSY_TIMEOUT_MS: '300' };
    const loop = startCli(['loop', 'locked'], { root, env });
    cleanups.unshift(() => loop.child.kill('SIGKILL'));
    await vi.waitFor(() => expect(task.running(file), 'the task to run').toBe(true), { timeout: 15_000 });
    const holder = new Database(file);
    holder.exec('BEGIN EXCLUSIVE');
    task.release();
    const stopped = await loop.done;
    holder.exec('ROLLBACK');
    holder.close();
    expect(stopped.code, stopped.stderr).toBe(12);
    expect(stopped.stderr).toMatch(new RegExp(`^error: event log ${file}: locked by another process past the busy timeout \\(SQLITE_BUSY[^)]*\\); stop the process holding it`, 'm'));

    const resumed = await runCli(['loop', 'locked'], { root, env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('run locked ended COMPLETED');
    const status = (await runCli(['status', 'locked', '--json'], { root })).json<{ tasks: { id: string; status: string }[] }>();
    expect(status.tasks).toEqual([expect.objectContaining({ id: 't', status: 'COMPLETED' })]);
  });
});
