import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../campaign/campaign.ts';
import { validateWorkflow } from '../campaign/validate-workflow.ts';
import { defaultOperatorsConfig } from '../workspace/operators-config.ts';
import { collectTaskResults } from '../operators/collect-attempt-files.ts';
import type { CollectedResults, OperatorContext } from '../operators/operator.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { stepRun } from '../host/drive-run.ts';
import { RunStore } from '../host/run-store.ts';
import { JsonValueSchema } from '../events/json.ts';
import type { TaskSpec } from '../events/workflow.ts';
import { FUZZ_RUNS, nastyString, nastyValue, slowRuns } from './harness/fuzz.ts';
import { InstantOperator } from '../harness/instant-operator.ts';
import { dumpProjections, rebuiltProjections } from './harness/projection-dump.ts';
import { verifyAndClose } from './harness/verify-and-close.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

/*
 * Fuzz: what a task leaves in its attempt folder. Any tree of files, folders and links, and any
 * results.json, gives files inside the folder (never through a link) and JSON data, or a reason;
 * through a run, the attempt ends with its results or with the reason, and the log replays.
 */

/** A file or folder name a task might write (the file system's limits kept: no `/`, no NUL, at most 255 bytes). */
const fileName = fc.oneof(
  fc.constantFrom('a', 'b.txt', 'results.json', '.results.json.tmp', '.hidden', 'exit_code', 'started.json', '..x', 'ü', '🧪', 'new\nline', ' sp ', '*', '[a]', '{a,b}', '!(x)', '-rf'),
  fc.string({ minLength: 1, maxLength: 30, unit: 'binary' }),
).filter((n) => n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0') && Buffer.byteLength(n) <= 255);

type Entry = { at: string[]; kind: 'file' | 'dir' | 'link-out' | 'link-in' | 'link-up' | 'dangling' };
const entry: fc.Arbitrary<Entry> = fc.record({
  at: fc.array(fileName, { minLength: 1, maxLength: 3 }),
  kind: fc.constantFrom('file', 'file', 'dir', 'link-out', 'link-in', 'link-up', 'dangling'),
});

/** results.json's bytes: JSON of anything, near-JSON, prototype keys, deep, huge, not UTF-8, or absent. */
const resultsBytes: fc.Arbitrary<Buffer | null> = fc.oneof(
  fc.constant(null),
  nastyValue.map((v) => Buffer.from(JSON.stringify(v) ?? 'undefined')),
  nastyString.map((s) => Buffer.from(s)),
  fc.constantFrom(
    '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    '{"a":1,"a":2}',
    '{"n":1e400,"m":-0,"x":NaN}',
    '\ufeff{"bom":true}',
    '{"a":1} trailing',
    '[1,2,',
    `${'['.repeat(500)}${']'.repeat(500)}`,
    `{"big":"${'x'.repeat(2_000_000)}"}`,
  ).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
);

/** Download patterns as a (validated) task would carry them. */
const patterns = fc.record(
  { include: fc.array(fc.oneof(fc.constantFrom('**', '*.txt', '**/*', '[', '!(a)', '{', 'a/**', '**/.*', '*'), nastyString), { maxLength: 2 }), exclude: fc.array(fc.oneof(fc.constantFrom('**/*.json', '[', 'b*'), nastyString), { maxLength: 2 }) },
  { requiredKeys: [] },
);

/** The task the attempt belongs to: its patterns only if a workflow would accept them. */
function taskWith(downloadPatterns: { include?: string[]; exclude?: string[] }): TaskSpec {
  try {
    return validateWorkflow({ tasks: [{ id: 't', command: 'true', downloadPatterns }] }).tasks[0]!;
  } catch {
    return validateWorkflow({ tasks: [{ id: 't', command: 'true' }] }).tasks[0]!;
  }
}

/** Builds the tree under `dir`; entries that collide with an earlier one are skipped, as a task's failed write would be. */
function writeTree(dir: string, outside: string, entries: readonly Entry[], results: Buffer | null): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const { at, kind } of entries) {
    const target = path.join(dir, ...at);
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (kind === 'file') fs.writeFileSync(target, at.join('/'));
      else if (kind === 'dir') fs.mkdirSync(target);
      else if (kind === 'link-out') fs.symlinkSync(outside, target);
      else if (kind === 'link-in') fs.symlinkSync(dir, target);
      else if (kind === 'link-up') fs.symlinkSync('..', target);
      else fs.symlinkSync(path.join(dir, 'nowhere'), target);
    } catch {
      // EEXIST / ENOTDIR: the tree keeps what was there.
    }
  }
  if (results !== null) {
    try {
      fs.rmSync(path.join(dir, 'results.json'), { recursive: true, force: true });
      fs.writeFileSync(path.join(dir, 'results.json'), results);
    } catch {
      // results.json's parent is not a folder: then there is none.
    }
  }
}

/** What a collection promises: files inside the attempt folder and not through a link, JSON data, a one-line reason. */
function expectSound(collected: CollectedResults, dir: string): void {
  for (const [rel, abs] of Object.entries(collected.files)) {
    expect(path.isAbsolute(rel)).toBe(false);
    expect(rel.split('/')).not.toContain('..');
    expect(abs).toBe(path.join(dir, rel));
    expect(fs.lstatSync(abs).isFile()).toBe(true);
    expect(fs.realpathSync(abs)).toBe(path.join(fs.realpathSync(dir), rel));
  }
  if (collected.data !== undefined) {
    expect(JsonValueSchema.safeParse(collected.data).success).toBe(true);
    expect(JSON.parse(JSON.stringify(collected.data))).toEqual(collected.data);
  }
  if (collected.reason !== undefined) {
    expect(typeof collected.reason).toBe('string');
    expect(collected.data).toBeUndefined();
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

let temp: TempRoot;
beforeAll(() => {
  temp = tempRoot('ms-fuzz-results-');
  fs.writeFileSync(path.join(temp.root, 'secret.txt'), 'outside the attempt');
  fs.writeFileSync(path.join(temp.root, 'outside.json'), '{"secret":true}');
});
afterAll(() => temp?.cleanup());

function contextFor(dir: string, task: TaskSpec): OperatorContext {
  const config = defaultOperatorsConfig();
  return {
    runId: 'r',
    attempt: { attemptId: 't-a1', taskId: 't', dir },
    task,
    workspaceDir: temp.root,
    runDir: path.dirname(dir),
    operatorKey: 'local.default',
    config: config.operators['local.default']!,
  };
}

/** An entry that leaves results.json, if any, a regular file (the other kinds: see the property on #13 item 4). */
function isPlainEntry(e: Entry): boolean {
  return e.at[0] !== 'results.json' || (e.at.length === 1 && e.kind === 'file');
}

describe('fuzz: results files (in process)', () => {
  it('any attempt folder and results.json give sound results or a reason', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entry.filter(isPlainEntry), { maxLength: 6 }), resultsBytes, patterns, async (entries, results, downloadPatterns) => {
        const dir = path.join(temp.root, 'attempts', `a${n++}`);
        writeTree(dir, path.join(temp.root, 'secret.txt'), entries, results);
        const collected = await collectTaskResults(contextFor(dir, taskWith(downloadPatterns)), []);
        expectSound(collected, dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
  // #13 item 4 (results.json that is not a regular file): a results.json folder used to throw a bare EISDIR out
  // of collectTaskResults, and a results.json link leading out of the attempt was followed.
  it('results.json as a folder or a link out of the attempt gives a reason, never the outside file', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Entry['kind']>('dir', 'link-out', 'link-in', 'link-up', 'dangling'), fc.array(fileName, { maxLength: 2 }), async (kind, below) => {
        const dir = path.join(temp.root, 'odd', `a${n++}`);
        writeTree(dir, path.join(temp.root, 'outside.json'), [{ at: ['results.json', ...below], kind }], null);
        const collected = await collectTaskResults(contextFor(dir, taskWith({})), []);
        expectSound(collected, dir);
        expect(collected.data).not.toEqual({ secret: true });
      }),
      { numRuns: Math.min(FUZZ_RUNS, 30) },
    );
  });
});

/** The instant operator, whose task "writes" the generated folder and whose results are collected for real. */
class WritingOperator extends InstantOperator {
  constructor(private readonly write: (dir: string) => void) {
    super();
  }
  override async collectResults(ctx: OperatorContext): Promise<CollectedResults> {
    this.write(ctx.attempt.dir);
    return collectTaskResults(ctx, []);
  }
}

describe('fuzz: results files through a run', () => {
  let store: RunStore;
  beforeAll(async () => {
    temp.workspace('lab', '');
    store = await RunStore.open({ root: temp.root });
  });
  afterAll(async () => store?.close());

  it('the attempt ends with its results or the reason; the log replays and projects as it was', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 4 }), resultsBytes, async (entries, results) => {
        const runId = `r${n++}`;
        let plans = 0;
        const campaign: Campaign = { plan: () => (plans++ === 0 ? { tasks: [{ id: 't', command: 'true' }] } : null), analyze: () => null };
        const operator = new WritingOperator((dir) => writeTree(dir, path.join(temp.root, 'secret.txt'), entries, results));
        const registry = { factories: { local: () => operator } };
        const run = await initializeRun({ store, workspace: 'lab', runId, campaign });
        let status: string = 'PENDING';
        try {
          for (let cycle = 0; cycle < 6 && status !== 'COMPLETED' && status !== 'FAILED'; cycle++) status = await stepRun(run, { campaign, registry });
        } finally {
          await verifyAndClose(run);
        }
        expect(['COMPLETED', 'FAILED']).toContain(status);
        expect(dumpProjections(await store.views())).toEqual(await rebuiltProjections(store.log));
      }),
      { numRuns: slowRuns(10, 8) },
    );
  });
});
