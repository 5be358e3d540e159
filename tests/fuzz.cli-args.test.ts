import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../cli/commands/index.ts';
import { GLOBAL_OPTIONS } from '../cli/global-options.ts';
import { parseCommandLine } from '../cli/parse-command-line.ts';
import { toCliFailure } from '../cli/report-error.ts';
import { UsageError } from '../cli/usage-error.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { runCli } from './harness/cli.ts';
import { FUZZ_RUNS, maybeId, nastyString, outcome, slowRuns } from './harness/fuzz.ts';
import { dumpProjections, rebuiltProjections } from './harness/projection-dump.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

/*
 * Fuzz: the command line. Any argv gets either a parsed command or one UsageError line (exit 2);
 * through the real binary, any failure is one `error:` line with a stable exit code, no stack
 * trace, and the run's log and projections stay as they were.
 */

const NAMES = COMMANDS.map((c) => c.name);
const OPTION_FLAGS = [...new Set([...Object.keys(GLOBAL_OPTIONS), ...COMMANDS.flatMap((c) => Object.keys(c.options))])].map((o) => `--${o}`);

/** One argv token: a command name, an option (alone, with `=value`, or mistyped), an id, or hostile text. */
const token: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NAMES),
  fc.constantFrom(...OPTION_FLAGS, '-h', '-x', '--', '-'),
  fc.tuple(fc.constantFrom(...OPTION_FLAGS), nastyString).map(([o, v]) => `${o}=${v}`),
  fc.constantFrom(...OPTION_FLAGS).map((o) => o.toUpperCase()),
  maybeId,
  nastyString,
);

describe('fuzz: command-line parsing (in process)', () => {
  it('any argv parses to a command of the list or throws one UsageError line (exit 2)', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), fc.option(nastyString, { nil: undefined }), (argv, natsEnv) => {
        const result = outcome(() => parseCommandLine(argv, COMMANDS, { MATTERSTACK_NATS_URL: natsEnv }));
        if (!result.ok) {
          expect(result.error).toBeInstanceOf(UsageError);
          const failure = toCliFailure(result.error);
          expect(failure).toMatchObject({ code: 'USAGE', exitCode: 2 });
          expect(failure.message).not.toMatch(/\n/);
          return;
        }
        const parsed = result.value;
        expect(['global-help', 'version', 'missing-command', 'command-help', 'command']).toContain(parsed.kind);
        if (parsed.kind !== 'command') return;
        expect(COMMANDS).toContain(parsed.command);
        // Positionals are whole argv tokens; options have the declared type; nothing else gets in.
        for (const spec of parsed.command.args) {
          const value = parsed.args[spec.name];
          if (value === undefined) expect(spec.required).toBe(false);
          else expect(argv).toContain(value);
        }
        expect(Object.keys(parsed.args).sort()).toEqual(parsed.command.args.map((a) => a.name).sort());
        expect(Object.keys(parsed.options).sort()).toEqual(Object.keys(parsed.command.options).sort());
        for (const [name, value] of Object.entries(parsed.options)) {
          if (value !== undefined) expect(typeof value).toBe(parsed.command.options[name]!.type);
        }
        expect(Object.getPrototypeOf(parsed.options)).toBe(Object.prototype);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: FUZZ_RUNS * 3 },
    );
  });
});

describe('fuzz: command-line errors shown to a terminal', () => {
  // depends on #13 item 11 (control characters escaped in human output): today an unknown command or a bad
  // run id is echoed raw, so `matterstack $'x\e[2J'` clears the screen of whoever reads the error.
  it('an error line never carries a control character the user typed', () => {
    const control = fc.tuple(fc.string({ maxLength: 4 }), fc.constantFrom('\u001b[2J', '\u001b]0;t\u0007', '\r', '\u0008', '\u009b31m'), fc.string({ maxLength: 4 })).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.constantFrom([], ['status'], ['pause'], ['--by']), control, (before, bad) => {
        const result = outcome(() => parseCommandLine([...before, bad], COMMANDS, {}));
        if (result.ok) return;
        expect(toCliFailure(result.error).message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      }),
      { numRuns: Math.min(FUZZ_RUNS, 50) },
    );
  });
});

/** The commands that end by themselves (`loop`, `worker` wait; `self-test` runs its own campaign). */
const FINITE = ['init', 'step', 'status', 'list', 'attempts', 'pause', 'resume', 'cancel', 'revive', 'rerun', 'cancel-attempt', 'approve', 'reject', 'explain', 'export-evidence', 'replay', 'projections'];
/** Tokens for the real binary: no `--root`/`--nats` (they would leave the temporary root or dial out), no NUL (no OS argv holds one), none over 5,000 characters (Linux refuses an argument over 128 kB: E2BIG). */
const binaryToken: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('r1', 'gate', 't', 'lab', 'rebuild', '--json', '--by', '--comment', '--recursive', '--all', '--run-id', '--max-concurrent', '--at', '--from', '--to', '--actor', '--type', '--verify', '-1', '0'),
  maybeId,
  nastyString.filter((s) => s.length < 5000),
).filter((s) => !s.includes('\0') && s.length < 5000);

let temp: TempRoot;
const GATE = `
export function plan(state) { return state === null ? { tasks: [{ id: 'gate', kind: 'gate' }, { id: 't', command: 'true', dependencies: ['gate'] }] } : null; }
export function analyze(state, results) { return Object.keys(results).length; }
`;

beforeAll(async () => {
  temp = tempRoot('ms-fuzz-cli-');
  temp.workspace('lab', GATE);
  const init = await runCli(['init', 'lab', '--run-id', 'r1'], { root: temp.root });
  expect(init.code).toBe(0);
});
afterAll(() => temp?.cleanup());

/** What the log holds (every run's last sequence) and the projections as stored. */
async function snapshot(): Promise<{ runs: unknown; projections: Record<string, unknown[]>; rebuilt: Record<string, unknown[]> }> {
  const dir = path.join(temp.root, '.matterstack');
  const log = await SqliteEventLog.open(path.join(dir, 'events.sqlite'));
  const db = new Database(path.join(dir, 'projections.sqlite'), { readonly: true });
  try {
    return { runs: await log.listRuns(), projections: dumpProjections(db), rebuilt: await rebuiltProjections(log) };
  } finally {
    db.close();
    await log.close();
  }
}

describe('fuzz: command lines through the real binary', () => {
  it('a failing command prints one error line, exits with a stable non-zero code, and changes neither log nor projections', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FINITE), fc.array(binaryToken, { maxLength: 5 }), async (command, rest) => {
        const argv = [command, ...rest];
        const before = await snapshot();
        const result = await runCli(argv, { root: temp.root });
        const context = `argv ${JSON.stringify(argv)} → exit ${result.code}\nstderr: ${result.stderr}`;
        expect(result.code, context).not.toBeNull();
        expect(result.stderr, context).not.toMatch(/^\s+at /m);
        if (result.code === 0) return;
        expect(result.code, context).not.toBe(1); // INTERNAL: an error nobody meant
        if (argv.slice(0, argv.indexOf('--') === -1 ? undefined : argv.indexOf('--')).includes('--json')) {
          expect(result.json<{ error: { code: string; message: string } }>().error.message, context).not.toMatch(/\n/);
        } else {
          expect(result.stderr.split('\n').filter((l) => l.startsWith('error: ')), context).toHaveLength(1);
        }
        const after = await snapshot();
        // A command the run refused is recorded (the history shows it); anything else appends nothing.
        if (!/rejected for run/.test(result.stderr + result.stdout)) expect(after.runs, context).toEqual(before.runs);
        // Projections are what the log says: the rejected input changed neither.
        expect(after.projections, context).toEqual(after.rebuilt);
      }),
      { numRuns: slowRuns(100, 4) },
    );
  });
});
