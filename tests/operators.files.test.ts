import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentOperator } from '../operators/experiment-operator.ts';
import { HumanOperator } from '../operators/human-operator.ts';
import type { PollResult } from '../operators/operator.ts';
import { OperatorRegistry } from '../operators/operator-registry.ts';
import { SimOperator } from '../operators/sim-operator.ts';
import { defaultOperatorsConfig, parseOperatorsConfig } from '../workspace/operators-config.ts';
import { contextFor, tempWorkspace } from './operators-helpers.ts';

const gate = (id = 'gate1') => ({ id, kind: 'gate' as const, message: 'Approve the candidates?' });

describe('HumanOperator', () => {
  const human = new HumanOperator({ pollIntervalMs: 50 });

  it('writes instructions with the gate message and waits', async () => {
    const ctx = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(ctx);
    expect(readFileSync(path.join(ctx.attempt.dir, 'instructions.md'), 'utf8')).toContain('Approve the candidates?');
    expect(readFileSync(path.join(ctx.attempt.dir, '.matterstack', 'manifest.json'), 'utf8')).toContain('"task_id": "gate1"');
    expect(await human.submit(ctx)).toMatchObject({ status: 'WAITING_EXTERNAL' });
    expect(await human.poll(ctx)).toEqual({ status: 'WAITING_EXTERNAL' });
  });

  it('completes on a valid response.json and collects its data', async () => {
    const ctx = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(ctx);
    writeFileSync(path.join(ctx.attempt.dir, 'response.json'), JSON.stringify({ status: 'COMPLETED', data: { picked: ['a'] } }));
    writeFileSync(path.join(ctx.attempt.dir, 'notes.txt'), 'n');
    expect(await human.poll(ctx)).toEqual({ status: 'COMPLETED' });
    const results = await human.collectResults(ctx);
    expect(results.data).toEqual({ picked: ['a'] });
    expect(Object.keys(results.files)).toEqual(['notes.txt']);
  });

  it('fails with the error of a FAILED response', async () => {
    const ctx = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(ctx);
    writeFileSync(path.join(ctx.attempt.dir, 'response.json'), JSON.stringify({ status: 'FAILED', error: 'bad batch' }));
    expect(await human.poll(ctx)).toEqual({ status: 'FAILED', reason: 'bad batch' });
  });

  it.each([
    ['{"status": "DONE"}', /field status/],
    ['{"status": "COMPLETED", "data": [1]}', /field data/],
    ['{"status": "FAILED", "error": 42}', /field error/],
    ['not json', /not valid JSON/],
    ['[]', /must hold a JSON object, not an array/],
  ])('an invalid response.json %s fails with a reason naming what is wrong', async (content, reason) => {
    const ctx = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(ctx);
    writeFileSync(path.join(ctx.attempt.dir, 'response.json'), content);
    const result = await human.poll(ctx);
    expect(result.status).toBe('FAILED');
    expect(result.reason).toMatch(/invalid response\.json/);
    expect(result.reason).toMatch(reason);
  });

  it('approved.txt completes, rejected.txt fails with the comment', async () => {
    const ws = tempWorkspace();
    const ok = contextFor(ws, gate('g_ok'), { kind: 'human', backend: null });
    await human.prepare(ok);
    writeFileSync(path.join(ok.attempt.dir, 'approved.txt'), 'looks good\n');
    expect(await human.poll(ok)).toEqual({ status: 'COMPLETED' });
    expect((await human.collectResults(ok)).data).toEqual({ comment: 'looks good' });

    const no = contextFor(ws, gate('g_no'), { kind: 'human', backend: null });
    await human.prepare(no);
    writeFileSync(path.join(no.attempt.dir, 'rejected.txt'), 'too expensive');
    expect(await human.poll(no)).toEqual({ status: 'FAILED', reason: 'rejected: too expensive' });
  });

  it('watch reports the answer when the file appears; cancel wins over later answers', async () => {
    const ctx = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(ctx);
    const seen: PollResult[] = [];
    const done = new Promise<void>((resolve) => {
      const stop = human.watch(ctx, (r) => {
        seen.push(r);
        if (r.status === 'COMPLETED') {
          stop();
          resolve();
        }
      });
    });
    setTimeout(() => writeFileSync(path.join(ctx.attempt.dir, 'approved.txt'), ''), 100);
    await done;
    expect(seen.map((r) => r.status)).toEqual(['WAITING_EXTERNAL', 'COMPLETED']);

    const other = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(other);
    expect(await human.cancel(other)).toMatchObject({ status: 'CANCELLED' });
    writeFileSync(path.join(other.attempt.dir, 'approved.txt'), '');
    expect((await human.poll(other)).status).toBe('CANCELLED');
  });
});

describe('answer files people and robots write are read safely', () => {
  const human = new HumanOperator({ pollIntervalMs: 50 });
  const experiment = new ExperimentOperator({ pollIntervalMs: 50 });
  const robot = { id: 'robot', kind: 'external' as const, request: {} };
  const cases = [
    { name: 'response.json', operator: human, task: gate(), kind: 'human' as const },
    { name: 'experiment_result.json', operator: experiment, task: robot, kind: 'experiment' as const },
  ];

  it.each(cases)('a FIFO as $name is refused with the reason, without waiting for a writer', async ({ name, operator, task, kind }) => {
    const ctx = contextFor(tempWorkspace(), task, { kind, backend: null });
    await operator.prepare(ctx);
    execFileSync('mkfifo', [path.join(ctx.attempt.dir, name)]);
    expect(await operator.poll(ctx)).toEqual({ status: 'FAILED', reason: `invalid ${name} is not a regular file (a FIFO)` });
    expect((await operator.collectResults(ctx)).reason).toMatch(/a FIFO/);
  });

  it.each(cases)('a symbolic link $name leading out of the attempt folder is not followed', async ({ name, operator, task, kind }) => {
    const ctx = contextFor(tempWorkspace(), task, { kind, backend: null });
    await operator.prepare(ctx);
    const outside = path.join(mkdtempSync(path.join(tmpdir(), 'ms-outside-')), 'secret.json');
    writeFileSync(outside, JSON.stringify({ status: 'COMPLETED', data: { secret: 1 } }));
    symlinkSync(outside, path.join(ctx.attempt.dir, name));
    const polled = await operator.poll(ctx);
    expect(polled.status).toBe('FAILED');
    expect(polled.reason).toMatch(new RegExp(`invalid ${name.replace('.', '\\.')} is a symbolic link leading out of the attempt folder`));
    expect((await operator.collectResults(ctx)).data).toBeUndefined();
  });

  it.each(['approved.txt', 'rejected.txt'])('a FIFO or an outside link as %s is refused too, without waiting', async (name) => {
    const fifo = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(fifo);
    execFileSync('mkfifo', [path.join(fifo.attempt.dir, name)]);
    expect(await human.poll(fifo)).toEqual({ status: 'FAILED', reason: `invalid ${name} is not a regular file (a FIFO)` });
    expect((await human.collectResults(fifo)).reason).toMatch(/a FIFO/);

    const linked = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null });
    await human.prepare(linked);
    const outside = path.join(mkdtempSync(path.join(tmpdir(), 'ms-outside-')), 'comment.txt');
    writeFileSync(outside, 'secret');
    symlinkSync(outside, path.join(linked.attempt.dir, name));
    expect((await human.poll(linked)).reason).toMatch(/is a symbolic link leading out of the attempt folder/);
    expect((await human.collectResults(linked)).data).toBeUndefined();
  });

  it('a response over defaults.max_results_bytes is refused naming the limit', async () => {
    const ctx = contextFor(tempWorkspace(), gate(), { kind: 'human', backend: null, maxResultsBytes: 100 });
    await human.prepare(ctx);
    writeFileSync(path.join(ctx.attempt.dir, 'response.json'), JSON.stringify({ status: 'COMPLETED', data: { big: 'x'.repeat(200) } }));
    expect((await human.poll(ctx)).reason).toMatch(/invalid response\.json is \d+ bytes, over the limit of 100 bytes/);
  });
});

describe('ExperimentOperator', () => {
  const experiment = new ExperimentOperator({ pollIntervalMs: 50 });
  const task = { id: 'robot', kind: 'external' as const, request: { recipe: 'A123', temp: 300 }, env: { EXPERIMENT_CONFIG: '{"line": 2}' } };

  it('writes the request and picks up the result', async () => {
    const ctx = contextFor(tempWorkspace(), task, { kind: 'experiment', backend: null });
    await experiment.prepare(ctx);
    const request = JSON.parse(readFileSync(path.join(ctx.attempt.dir, 'experiment_request.json'), 'utf8'));
    expect(request).toMatchObject({ task_id: 'robot', request: { recipe: 'A123', temp: 300 }, config: { line: 2 } });
    expect(await experiment.submit(ctx)).toMatchObject({ status: 'WAITING_EXTERNAL' });
    expect(await experiment.poll(ctx)).toEqual({ status: 'WAITING_EXTERNAL' });

    const result = new Promise<PollResult>((resolve) => {
      const stop = experiment.watch(ctx, (r) => {
        if (r.status !== 'WAITING_EXTERNAL') {
          stop();
          resolve(r);
        }
      });
    });
    writeFileSync(path.join(ctx.attempt.dir, 'spectrum.csv'), '1,2\n');
    writeFileSync(path.join(ctx.attempt.dir, 'experiment_result.json'), JSON.stringify({ status: 'COMPLETED', data: { yield: 0.95 }, files: ['spectrum.csv'] }));
    expect(await result).toEqual({ status: 'COMPLETED' });
    const collected = await experiment.collectResults(ctx);
    expect(collected.data).toEqual({ yield: 0.95 });
    expect(Object.keys(collected.files)).toEqual(['spectrum.csv']);
  });

  it('an invalid result fails naming the field', async () => {
    const ctx = contextFor(tempWorkspace(), task, { kind: 'experiment', backend: null });
    await experiment.prepare(ctx);
    writeFileSync(path.join(ctx.attempt.dir, 'experiment_result.json'), JSON.stringify({ status: 'COMPLETED', data: 'x' }));
    const polled = await experiment.poll(ctx);
    expect(polled.status).toBe('FAILED');
    expect(polled.reason).toMatch(/invalid experiment_result\.json: field data/);
  });

  it('a FAILED result carries its error', async () => {
    const ctx = contextFor(tempWorkspace(), task, { kind: 'experiment', backend: null });
    await experiment.prepare(ctx);
    writeFileSync(path.join(ctx.attempt.dir, 'experiment_result.json'), JSON.stringify({ status: 'FAILED', error: 'robot jammed' }));
    expect(await experiment.poll(ctx)).toEqual({ status: 'FAILED', reason: 'robot jammed' });
  });
});

describe('SimOperator and the registry', () => {
  it('sim completes at once without running anything', async () => {
    const sim = new SimOperator();
    const ctx = contextFor(tempWorkspace(), { id: 's1', command: 'touch ran.txt' }, { kind: 'sim', backend: null });
    await sim.prepare(ctx);
    await sim.submit(ctx);
    const result = await sim.poll(ctx);
    expect(result.status).toBe('COMPLETED');
    expect(result.reason).toMatch(/dry run/);
    expect(readFileSync(path.join(ctx.attempt.dir, 'dry_run.txt'), 'utf8')).toContain('touch ran.txt');
  });

  it('builds operators from config, with caps and legacy lookups', () => {
    const registry = OperatorRegistry.fromConfig(defaultOperatorsConfig());
    expect(registry.keys()).toEqual(['experiment.default', 'human.default', 'local.default']);
    expect(registry.get('Local')?.operator.kind).toBe('local');
    expect(registry.get(' HUMAN.default ')?.operator.kind).toBe('human');
    expect(() => registry.require('hpc.cluster')).toThrow(/hpc\.cluster.*configured: experiment\.default, human\.default, local\.default/);

    const config = parseOperatorsConfig(
      'operators:\n  hpc.dry:\n    kind: hpc\n    backend: {type: local, dry_run: true}\n    max_concurrent: 2\n  sim.default:\n    kind: sim\n',
      'operators.yaml',
    );
    const custom = OperatorRegistry.fromConfig(config);
    expect(custom.get('hpc.dry')).toMatchObject({ maxConcurrent: 2 });
    expect(custom.get('hpc.dry')?.operator.kind).toBe('sim');
    expect(custom.get('sim.default')?.operator.kind).toBe('sim');
  });
});
