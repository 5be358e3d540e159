import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadOperatorsConfig, parseOperatorsConfig } from '../workspace/operators-config.ts';
import { normalizeOperatorKey, splitOperatorKey, tryNormalizeOperatorKey } from '../events/operator-key.ts';
import { isMatterStackError, type MatterStackError } from '../events/errors.ts';

function errorOf(text: string): MatterStackError {
  try {
    parseOperatorsConfig(text, 'ws/operators.yaml');
  } catch (error) {
    if (isMatterStackError(error, 'INVALID_CONFIG')) return error;
    throw error;
  }
  throw new Error('expected an INVALID_CONFIG error');
}

describe('operators.yaml', () => {
  it('parses a full config and keeps the built-in operators', () => {
    const config = parseOperatorsConfig(
      [
        'defaults:',
        '  max_concurrent_global: 4',
        '  default_operator: hpc.cluster_a',
        'operators:',
        '  local.default:',
        '    kind: local',
        '    max_concurrent: 2',
        '  hpc.cluster_a:',
        '    kind: hpc',
        '    backend: {type: slurm, workspace_root: /scratch/ms, slurm: {account: abc}}',
        '    max_concurrent: null',
        '  human.review:',
        '    kind: human',
        '    poll_interval_seconds: 5',
      ].join('\n'),
      'ws/operators.yaml',
    );
    expect(config.maxConcurrentGlobal).toBe(4);
    expect(config.defaultOperator).toBe('hpc.cluster_a');
    expect(config.operators['local.default']).toEqual({ kind: 'local', backend: { type: 'local', dry_run: false }, maxConcurrent: 2 });
    expect(config.operators['hpc.cluster_a']?.backend).toMatchObject({ type: 'slurm', workspace_root: '/scratch/ms', slurm: { account: 'abc' } });
    expect(config.operators['human.review']).toEqual({ kind: 'human', backend: null, maxConcurrent: null, pollIntervalSeconds: 5 });
    expect(Object.keys(config.operators).sort()).toEqual(['experiment.default', 'hpc.cluster_a', 'human.default', 'human.review', 'local.default']);
  });

  it('defaults.max_results_bytes reaches every operator, the built-in ones too', () => {
    const config = parseOperatorsConfig('defaults:\n  max_results_bytes: 3000000\noperators:\n  local.fast: {kind: local}\n', 'ws/operators.yaml');
    expect(Object.values(config.operators).map((entry) => entry.maxResultsBytes)).toEqual([3_000_000, 3_000_000, 3_000_000, 3_000_000]);
    expect(parseOperatorsConfig('operators: {}\n', 'ws/operators.yaml').operators['local.default']?.maxResultsBytes).toBeUndefined();
  });

  it('a missing workspace file gives the defaults; a missing explicit file is an error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ms-cfg-'));
    const config = loadOperatorsConfig({ workspaceDir: dir });
    expect(config.source).toBeNull();
    expect(config.maxConcurrentGlobal).toBe(10);
    expect(config.defaultOperator).toBe('local.default');
    expect(Object.keys(config.operators).sort()).toEqual(['experiment.default', 'human.default', 'local.default']);
    expect(() => loadOperatorsConfig({ file: path.join(dir, 'nope.yaml') })).toThrow(/nope\.yaml/);
    writeFileSync(path.join(dir, 'operators.yaml'), 'operators:\n  local.fast: {kind: local}\n');
    expect(loadOperatorsConfig({ workspaceDir: dir }).operators['local.fast']).toBeDefined();
  });

  it.each([
    // [yaml, line, key, field, message]
    ['operators:\n  local.default:\n    kind: local\n    colour: red\n', 4, 'local.default', 'colour', /unknown field "colour"/],
    ['operators:\n  local.default:\n    kind: local\n    max_concurrent: 0\n', 4, 'local.default', 'max_concurrent', /positive integer or null/],
    ['operators:\n  local.default:\n    kind: local\n    max_concurrent: 1.5\n', 4, 'local.default', 'max_concurrent', /positive integer/],
    ['operators:\n  hpc.a:\n    kind: local\n', 3, 'hpc.a', 'kind', /key kind "hpc" does not match kind "local"/],
    ['operators:\n  human.x:\n    kind: human\n    backend: {type: local}\n', 4, 'human.x', 'backend', /takes no backend/],
    ['operators:\n  local.a:\n    kind: robot\n', 3, 'local.a', 'kind', /local|hpc/],
    ['operators:\n  local.a:\n    kind: local\n    backend: {type: pbs}\n', 4, 'local.a', 'backend.type', /./],
    ['operators:\n  hpc.a:\n    kind: hpc\n    backend:\n      type: slurm\n', 5, 'hpc.a', 'backend.workspace_root', /./],
    ['\n\noperators:\n  Local:\n    kind: local\n', 4, 'Local', '(entry)', /did you mean "local.default"/],
    ['defaults:\n  max_concurrent_global: -1\noperators: {}\n', 2, 'defaults', 'max_concurrent_global', /positive integer/],
    ['defaults:\n  default_operator: hpc.nope\noperators: {}\n', 2, 'defaults', 'default_operator', /not configured/],
    ['defaults:\n  max_results_bytes: -1\noperators: {}\n', 2, 'defaults', 'max_results_bytes', /must be a positive integer/],
    ['defaults:\n  max_results_bytes: 1.5\noperators: {}\n', 2, 'defaults', 'max_results_bytes', /must be a positive integer/],
  ])('error names file, line, key and field: %j', (yaml, line, key, field, message) => {
    const error = errorOf(yaml);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`ws/operators.yaml:${line}:`);
    expect(error.message).toContain(key);
    expect(error.details).toMatchObject({ file: 'ws/operators.yaml', line, key, field });
  });

  it('a file holding only defaults is valid: the built-in operators take them', () => {
    const config = parseOperatorsConfig('defaults:\n  max_concurrent_global: 2\n  max_results_bytes: 5000\n', 'ws/operators.yaml');
    expect(config.maxConcurrentGlobal).toBe(2);
    expect(Object.keys(config.operators).sort()).toEqual(['experiment.default', 'human.default', 'local.default']);
    expect(config.operators['local.default']).toMatchObject({ kind: 'local', maxResultsBytes: 5000 });
    expect(config.defaultOperator).toBe('local.default');
  });

  it('reports YAML syntax errors and a top level that is not a mapping with a line', () => {
    expect(errorOf('operators:\n  local.a: {kind: local\n').message).toMatch(/ws\/operators\.yaml:\d+: invalid YAML/);
    expect(errorOf('- a\n- b\n').message).toMatch(/top level must be a mapping/);
    expect(errorOf('operators:\n  local.a: {kind: local}\n  local.a: {kind: local}\n').message).toMatch(/:3: invalid YAML/);
  });
});

describe('operator keys', () => {
  it('normalises and maps legacy names', () => {
    expect(normalizeOperatorKey('  HPC.Cluster_A ')).toBe('hpc.cluster_a');
    expect(normalizeOperatorKey('Local')).toBe('local.default');
    expect(normalizeOperatorKey('HPC')).toBe('hpc.default');
    expect(normalizeOperatorKey('human')).toBe('human.default');
    expect(normalizeOperatorKey('EXPERIMENT')).toBe('experiment.default');
    expect(splitOperatorKey('hpc.clustera.dev')).toEqual({ kind: 'hpc', name: 'clustera.dev' });
    for (const bad of ['', ' ', 'local', 'local.', '.x', 'local..x', 'a b.c', 'a.b c', '1a.b', 'a.-b', 'local/x']) {
      if (bad === 'local') continue;
      expect(tryNormalizeOperatorKey(bad)).toBeNull();
      expect(() => normalizeOperatorKey(bad)).toThrow(/invalid operator key/);
    }
  });

  const kind = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/);
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,10}(\.[a-z0-9_-]{1,5})?$/);

  it('valid keys round-trip (property)', () => {
    fc.assert(
      fc.property(kind, name, fc.constantFrom('', ' ', '\t'), fc.boolean(), (k, n, pad, upper) => {
        const key = `${k}.${n}`;
        const raw = `${pad}${upper ? key.toUpperCase() : key}${pad}`;
        expect(normalizeOperatorKey(raw)).toBe(key);
        expect(normalizeOperatorKey(normalizeOperatorKey(raw))).toBe(key);
        expect(splitOperatorKey(key)).toEqual({ kind: k, name: n });
      }),
    );
  });

  it('junk never throws anything but a MatterStackError (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.anything()), (raw) => {
        try {
          const key = normalizeOperatorKey(raw);
          expect(tryNormalizeOperatorKey(key)).toBe(key);
        } catch (error) {
          expect(isMatterStackError(error, 'INVALID_CONFIG')).toBe(true);
        }
      }),
    );
  });

  it('junk configs never throw anything but INVALID_CONFIG (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify({ operators: v }))), (text) => {
        try {
          parseOperatorsConfig(text, 'x.yaml');
        } catch (error) {
          expect(isMatterStackError(error, 'INVALID_CONFIG')).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
