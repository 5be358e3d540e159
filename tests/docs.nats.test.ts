import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFailureOf } from '../distributed/command-client.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { NATS_CONF, NATS_DOC, REGENERATE_HINT, renderNatsDoc } from '../docs/generate-nats-doc.ts';
import { mayPublish, parseNatsConfPermissions } from '../docs/nats-conf-permissions.ts';
import { COMMAND_VERBS } from '../events/command-messages.ts';
import { commandSubject, initCommandSubject } from '../events/subjects.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The JavaScript between the doc's example markers. */
function clientExample(doc: string): string {
  const match = /<!-- example:client begin -->\n```js\n([\s\S]*?)```\n<!-- example:client end -->/.exec(doc);
  if (match?.[1] === undefined) throw new Error('docs/nats.md: the client example markers are missing');
  return match[1];
}

/** Runs ES module source with node from the repository (so bare imports resolve to its node_modules). */
function runModule(source: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-'], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(source);
  });
}

describe('docs/nats.md', () => {
  it('its generated sections match the zod schemas and nats.conf', () => {
    const current = fs.readFileSync(NATS_DOC, 'utf8');
    expect(renderNatsDoc(current, fs.readFileSync(NATS_CONF, 'utf8')), `docs/nats.md is out of date: ${REGENERATE_HINT}`).toBe(current);
  });

  describe('against a real nats-server and worker', () => {
    let server: NatsServerHandle;
    let worker: WorkerHandle;
    let root: string;

    beforeAll(async () => {
      server = await startNatsServer();
      root = makeWorkspace(GATE_CAMPAIGN);
      worker = await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, leaseTtlMs: 3000, operators: { pollIntervalMs: 100 } });
    });
    afterAll(async () => {
      await worker?.stop();
      await server?.stop();
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it('the users it allows to send each command are those the server lets through', async () => {
      const users = parseNatsConfPermissions(fs.readFileSync(NATS_CONF, 'utf8'));
      for (const user of users) {
        // The documented subjects, and the authenticated ones under every user's name: only its own pass.
        const as = [undefined, ...users.map((u) => u.user)];
        const subjects = as.flatMap((name) => [initCommandSubject(name), ...COMMAND_VERBS.map((verb) => commandSubject('no_such_run', verb, name))]);
        const pass = server.users[user.user as keyof NatsServerHandle['users']].pass;
        const nc = await connect({ servers: server.url, user: user.user, pass });
        try {
          for (const subject of subjects) {
            // An allowed request reaches the worker and gets a reply (a refusal: no such run, bad payload); nothing changes.
            const outcome = await nc.request(subject, '{}', { timeout: 10_000 }).then(
              () => 'answered',
              (error: unknown) => requestFailureOf(error),
            );
            expect(`${user.user} ${subject}: ${outcome}`).toBe(`${user.user} ${subject}: ${mayPublish(user, subject) ? 'answered' : 'permission'}`);
          }
        } finally {
          await nc.close();
        }
      }
    });

    it('the client example starts a run, prints its events, approves the gate and sees the run complete', async () => {
      const source = clientExample(fs.readFileSync(NATS_DOC, 'utf8'));
      const result = await runModule(source, { NATS_URL: server.url, MS_SCIENTIST_PASSWORD: server.users.scientist.pass, WORKSPACE: 'lab' });
      expect(result.code, result.stderr).toBe(0);
      // A run starts with the record of the version that wrote it, then its creation.
      expect(result.stdout).toMatch(/^event 1 HOST\.VERSION\nevent 2 RUN\.CREATED$/m);
      expect(result.stdout).toMatch(/^approved gate$/m);
      expect(result.stdout).toMatch(/^run example_\d+ COMPLETED$/m);
    }, 60_000);
  });
});
