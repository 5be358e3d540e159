import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeRun, listActiveRuns, runUntilCompletion } from '../index.ts';
import { parseNatsUrl } from '../storage/nats-url.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// The library API logs in with the `user:pass@` of a natsUrl, as the CLI does, against a real
// nats-server whose nats.conf refuses anonymous clients; no error message shows the password.

let server: NatsServerHandle;
let temp: TempRoot;

beforeAll(async () => {
  server = await startNatsServer();
  temp = tempRoot();
  temp.workspace('ws', oneWorkflowCampaign([{ id: 'a', command: 'true' }]));
});
afterAll(async () => {
  await server?.stop();
  temp?.cleanup();
});

function urlWith(user: string, pass: string): string {
  return `nats://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${server.port}`;
}

describe('natsUrl with user:pass@ in the library API', () => {
  it('creates and completes a run on JetStream as the URL’s user', async () => {
    const { user, pass } = server.users.orchestrator;
    const run = await initializeRun({ root: temp.root, workspace: 'ws', natsUrl: urlWith(user, pass) });
    expect(await runUntilCompletion(run)).toBe('COMPLETED');
    await run.close();
  });

  it('a wrong password fails with LOG_UNAVAILABLE and the message never shows it', async () => {
    const secret = 'Wr0ng-s3cret';
    const error = await listActiveRuns({ root: temp.root, natsUrl: urlWith('orchestrator', secret) }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'LOG_UNAVAILABLE' });
    expect(String((error as Error).message)).not.toContain(secret);
    expect(String((error as Error).message)).toContain(`127.0.0.1:${server.port}`);
    const bad = await listActiveRuns({ root: temp.root, natsUrl: `nats://orchestrator:${secret}@[bad` }).then(() => undefined, (e: unknown) => e);
    expect(bad).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(String((bad as Error).message)).not.toContain(secret);
  });
});

describe('parseNatsUrl', () => {
  it('takes the login out of the first URL that has one and keeps every server', () => {
    expect(parseNatsUrl('nats://a%40b:p%3Ass@h1:4222, h2:4223')).toEqual({
      servers: ['nats://h1:4222', 'nats://h2:4223'],
      user: 'a@b',
      pass: 'p:ss',
      display: 'nats://h1:4222,nats://h2:4223',
    });
    expect(parseNatsUrl('nats://h1:4222')).toMatchObject({ user: undefined, pass: undefined });
  });
});
