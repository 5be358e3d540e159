import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejected } from '../distributed/command-request.ts';
import { startStatusResponder, type StatusResponderOptions } from '../distributed/status-responder.ts';
import { createLogger } from '../events/logger.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';

// The status thread starts in the background: a thread that fails, or is stopped while it starts,
// is given up (logged) without the worker ever waiting for it.

let server: NatsServerHandle;
let dir: string;

beforeAll(async () => {
  server = await startNatsServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-status-responder-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Options for a responder of worker `w1`, and the log lines it writes. */
function options(projectionsFile: string): { options: StatusResponderOptions; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', format: 'json', sink: { write: (text: string) => lines.push(text) } });
  return {
    lines,
    options: { servers: server.url, ...server.users.orchestrator, workerId: 'w1', projectionsFile, leaseTtlMs: 3000, logger, answer: async () => rejected('INTERNAL', 'not asked in this test') },
  };
}

describe('the status responder', () => {
  it('gives up a thread that fails to start and logs why; stop() still resolves', async () => {
    const { options: opts, lines } = options(path.join(dir, 'missing.sqlite'));
    const responder = startStatusResponder(opts);
    expect(responder.alive).toBe(false);
    expect(await responder.ready).toBe(false);
    expect(responder.alive).toBe(false);
    expect(lines.join('')).toMatch(/status thread not started \(it failed: .*\): status is answered on the run loop/);
    await responder.stop();
  });

  it('gives up a thread not ready within its time', async () => {
    const { options: opts, lines } = options(path.join(dir, 'missing.sqlite'));
    const responder = startStatusResponder({ ...opts, readyTimeoutMs: 1 });
    expect(await responder.ready).toBe(false);
    expect(lines.join('')).toContain('not ready within 1 ms');
    await responder.stop();
  });

  it('stop() while the thread is still starting ends it at once', async () => {
    const { options: opts } = options(path.join(dir, 'missing.sqlite'));
    const responder = startStatusResponder(opts);
    const started = performance.now();
    await responder.stop();
    expect(performance.now() - started).toBeLessThan(2500);
    expect(await responder.ready).toBe(false);
    expect(responder.alive).toBe(false);
  });
});
