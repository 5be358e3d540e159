import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cappedOperators, markingCampaign } from './harness/task-marks.ts';
import { natsCliFixture } from './nats-fixtures/cli-worker.ts';

// One task of 60 s per run, the operator capped at 1 across runs: the second run's task waits in line.
const marksDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-slot-wait-marks-'));
const nats = natsCliFixture(markingCampaign(marksDir, 1, 60), { workerId: 'sw1', prefix: 'ms-slot-wait-nats-' });

beforeAll(() => fs.writeFileSync(path.join(nats.root, 'lab', 'operators.yaml'), cappedOperators(1)));
afterAll(() => fs.rmSync(marksDir, { recursive: true, force: true }));

describe('status --nats and explain --nats with operator caps shared on JetStream', { timeout: 180_000 }, () => {
  it('say when a task waits for a slot another run holds', async () => {
    expect((await nats.scientist(['init', 'lab', '--run-id', 'holder'])).code).toBe(0);
    await vi.waitFor(() => expect(fs.existsSync(path.join(marksDir, 'holder.t0'))).toBe(true), { timeout: 60_000, interval: 200 });
    expect((await nats.scientist(['init', 'lab', '--run-id', 'waiter'])).code).toBe(0);
    try {
      await vi.waitFor(
        async () => {
          const explain = await nats.scientist(['explain', 'waiter', '--json']);
          const task = explain.json<{ tasks: { id: string; why: { sharedSlot?: unknown } }[] }>().tasks.find((t) => t.id === 't0');
          expect(task?.why.sharedSlot, explain.stdout + explain.stderr).toEqual({ cap: 1, held: 1, byOthers: 1 });
        },
        { timeout: 60_000, interval: 500 },
      );
      const explain = await nats.scientist(['explain', 'waiter']);
      expect(explain.stdout).toContain('waiting for a slot of operator local.default shared with other runs: 1 of its 1 taken, 1 by other runs');
      const status = await nats.scientist(['status', 'waiter']);
      expect(status.stdout, status.stderr).toContain('waiting for a slot of operator local.default shared with other runs: 1 taken, 1 by other runs');
      // The holder's own task is running, not waiting.
      expect((await nats.scientist(['status', 'holder'])).stdout).not.toContain('waiting for a slot');
    } finally {
      for (const runId of ['holder', 'waiter']) await nats.scientist(['cancel', runId]);
    }
  });
});
