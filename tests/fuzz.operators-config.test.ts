import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadOperatorsConfig, OPERATOR_KINDS, parseOperatorsConfig, type OperatorsConfig } from '../workspace/operators-config.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { RunStore } from '../host/run-store.ts';
import { isMatterStackError } from '../events/errors.ts';
import { OPERATOR_KEY_PATTERN } from '../events/operator-key.ts';
import { expectCleanError, FUZZ_RUNS, nastyNumber, nastyString, nastyValue, outcome, slowRuns } from './harness/fuzz.ts';
import { dumpProjections } from './harness/projection-dump.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

/*
 * Fuzz: operators.yaml. Any text gets a valid configuration or one INVALID_CONFIG error naming
 * the file; a run whose workspace has a bad file is not created (the log and projections stay
 * as they were).
 */

const FILE = 'ws/operators.yaml';
const key = fc.oneof(
  fc.constantFrom('local.default', 'hpc.cluster_a', 'human.review', 'experiment.x', 'sim.dry', 'Local', 'HPC', 'local', 'local..x', 'LOCAL.DEFAULT', '__proto__', 'constructor', 'a.__proto__'),
  fc.tuple(fc.constantFrom(...OPERATOR_KINDS, 'robot'), nastyString).map(([kind, name]) => `${kind}.${name}`),
  nastyString,
);
const number = fc.oneof(nastyNumber, fc.integer({ min: 1, max: 100 }), fc.constant(null), nastyString);
const backend = fc.oneof(
  fc.record({ type: fc.constantFrom('local', 'slurm', 'ssh', '__proto__'), dry_run: fc.oneof(fc.boolean(), nastyValue) }, { requiredKeys: ['type'] }),
  fc.record(
    {
      type: fc.constant('slurm'),
      workspace_root: fc.oneof(fc.constantFrom('/scratch', '../..', ''), nastyString),
      ssh: fc.record({ host: nastyString, port: number, user: nastyString, accept_unknown_host_keys: fc.oneof(fc.boolean(), nastyValue) }, { requiredKeys: [] }),
      slurm: fc.dictionary(nastyString, nastyValue, { maxKeys: 3 }),
      sbatch_options: fc.array(nastyString, { maxLength: 3 }),
      poll_interval_seconds: number,
      lost_grace_seconds: number,
    },
    { requiredKeys: ['type'] },
  ),
  nastyValue,
);
const entry = fc.record(
  {
    kind: fc.oneof(fc.constantFrom(...OPERATOR_KINDS), nastyString),
    backend,
    max_concurrent: number,
    poll_interval_seconds: number,
    description: fc.oneof(nastyString, nastyValue),
    extra: nastyValue,
  },
  { requiredKeys: [] },
);
/** A document shaped like operators.yaml, with hostile keys and values anywhere. */
const nearValid = fc.record(
  {
    defaults: fc.oneof(fc.record({ max_concurrent_global: number, default_operator: fc.oneof(key, nastyValue) }, { requiredKeys: [] }), nastyValue),
    operators: fc.oneof(fc.dictionary(key, entry, { maxKeys: 4 }), nastyValue),
    extra: nastyValue,
  },
  { requiredKeys: [] },
);

/** YAML text: a near-valid document, any value, or text YAML parsers trip on (aliases, tags, tabs, anchors, deep flow). */
const yamlText = fc.oneof(
  { weight: 4, arbitrary: nearValid.map((doc) => stringify(doc)) },
  { weight: 1, arbitrary: nastyValue.map((doc) => stringify(doc) ?? '') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '---\n...\n',
      'operators:\n  local.default:\n\tkind: local\n',
      'operators: &a\n  x: *a\n',
      'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\noperators: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n',
      'operators: *undefined\n',
      'operators: !!js/function "function () { return 1 }"\n',
      'operators:\n  local.default: {kind: local}\n  local.default: {kind: local}\n',
      'operators:\n  <<: {local.x: {kind: local}}\n',
      '\ufeffoperators: {}\n',
      'operators: {local.a: {kind: local, max_concurrent: .nan}}\n',
      'operators: {local.a: {kind: local, max_concurrent: -.inf}}\n',
      'operators: {local.a: {kind: local, max_concurrent: 0x10}}\n',
      'operators: {local.a: {kind: local, max_concurrent: 1e400}}\n',
      'operators: {"__proto__": {kind: local}}\n',
      'operators: {local.a: {kind: local, "__proto__": {polluted: true}}}\n',
      '%YAML 9.9\n---\noperators: {}\n',
      '? [a, b]\n: c\noperators: {}\n',
      `operators: ${'['.repeat(2000)}${']'.repeat(2000)}\n`,
      `operators: ${'{a: '.repeat(2000)}1${'}'.repeat(2000)}\n`,
      'operators:\n  local.a:\n    kind: local\n    description: "\\u0000\\u001b[31m"\n',
    ),
  },
  { weight: 1, arbitrary: nastyString },
);

/** What a valid configuration promises its readers. */
function expectValidConfig(config: OperatorsConfig): void {
  expect(Object.getPrototypeOf(config.operators)).toBe(Object.prototype);
  for (const [name, op] of Object.entries(config.operators)) {
    expect(name).toMatch(OPERATOR_KEY_PATTERN);
    expect(name.split('.')[0]).toBe(op.kind);
    expect(OPERATOR_KINDS).toContain(op.kind);
    if (op.maxConcurrent !== null) expect(Number.isSafeInteger(op.maxConcurrent) && op.maxConcurrent > 0).toBe(true);
    if (op.pollIntervalSeconds !== undefined) expect(op.pollIntervalSeconds).toBeGreaterThan(0);
  }
  if (config.maxConcurrentGlobal !== null) expect(Number.isSafeInteger(config.maxConcurrentGlobal) && config.maxConcurrentGlobal > 0).toBe(true);
  expect(Object.hasOwn(config.operators, config.defaultOperator)).toBe(true);
  // Snapshots carry it: it must survive JSON.
  expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

describe('fuzz: operators.yaml', () => {
  it('any text parses to a valid configuration or throws INVALID_CONFIG naming the file', () => {
    fc.assert(
      fc.property(yamlText, (text) => {
        const result = outcome(() => parseOperatorsConfig(text, FILE));
        if (result.ok) expectValidConfig(result.value);
        else {
          expectCleanError(result.error, ['INVALID_CONFIG']);
          expect((result.error as Error).message.startsWith(FILE)).toBe(true);
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('a path that is not a readable file (a folder, a dangling link, a FIFO-free odd name) is INVALID_CONFIG or the defaults', () => {
    const temp = tempRoot('ms-fuzz-opcfg-');
    try {
      const dir = temp.workspace('ws', '');
      fs.mkdirSync(path.join(dir, 'folder'));
      fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'));
      fc.assert(
        fc.property(fc.constantFrom('folder', 'dangling', 'missing', '../../../etc/shadow', '\u0000', ''), (name) => {
          const result = outcome(() => loadOperatorsConfig({ file: path.join(dir, name) }));
          if (result.ok) expectValidConfig(result.value);
          else expectCleanError(result.error, ['INVALID_CONFIG']);
        }),
        { numRuns: 12 },
      );
    } finally {
      temp.cleanup();
    }
  });
});

describe('fuzz: a workspace whose operators.yaml is a link to nowhere', () => {
  // depends on #13 item 14 ("a dangling operators.yaml link is an error"): today it silently gives the defaults.
  it('is INVALID_CONFIG, not the defaults', () => {
    const temp = tempRoot('ms-fuzz-opdangle-');
    let n = 0;
    try {
      fc.assert(
        fc.property(fc.constantFrom('nowhere.yaml', '../../nowhere.yaml', '/nonexistent/operators.yaml'), (target) => {
          const dir = temp.workspace(`ws${n++}`, '');
          fs.symlinkSync(target, path.join(dir, 'operators.yaml'));
          const result = outcome(() => loadOperatorsConfig({ workspaceDir: dir }));
          expect(result.ok).toBe(false);
          expectCleanError(result.ok ? undefined : result.error, ['INVALID_CONFIG']);
        }),
        { numRuns: 3 },
      );
    } finally {
      temp.cleanup();
    }
  });
});

describe('fuzz: a workspace with a bad operators.yaml creates no run', () => {
  let temp: TempRoot;
  let store: RunStore;
  beforeAll(async () => {
    temp = tempRoot('ms-fuzz-opinit-');
    store = await RunStore.open({ root: temp.root });
  });
  afterAll(async () => {
    await store?.close();
    temp?.cleanup();
  });

  it('init refuses it with INVALID_CONFIG and leaves log and projections as they were', async () => {
    const campaign = { plan: (state: unknown) => (state === null ? { tasks: [{ id: 't', command: 'true' }] } : null), analyze: () => null };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(yamlText, async (text) => {
        const dir = temp.workspace('lab', '', text);
        const runId = `r${n++}`;
        const valid = outcome(() => loadOperatorsConfig({ workspaceDir: dir })).ok;
        const before = { runs: await store.log.listRuns(), projections: dumpProjections(await store.views()) };
        const result = await initializeRun({ store, workspace: 'lab', runId, campaign }).then(
          async (handle) => {
            await handle.close();
            return { ok: true as const };
          },
          (error: unknown) => ({ ok: false as const, error }),
        );
        if (valid) {
          expect(result.ok).toBe(true);
          return;
        }
        expect(result.ok).toBe(false);
        if (!result.ok) expect(isMatterStackError(result.error, 'INVALID_CONFIG'), String(result.error)).toBe(true);
        expect(await store.log.listRuns()).toEqual(before.runs);
        expect(dumpProjections(await store.views())).toEqual(before.projections);
      }),
      { numRuns: slowRuns(10, 15) },
    );
  });
});
