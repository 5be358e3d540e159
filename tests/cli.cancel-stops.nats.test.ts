import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LOCAL_FILES } from '../operators/local-operator.ts';
import { groupMembers } from '../operators/process-group.ts';
import { oneWorkflowCampaign } from './harness/workspace.ts';
import { natsCliFixture } from './nats-fixtures/cli-worker.ts';

// cancel --nats: the worker hosting the run stops the attempts; the command waits for that and reports it.
// The worker takes its password from the environment and its user from --user.
const nats = natsCliFixture(oneWorkflowCampaign([{ id: 'long', command: 'sleep 300' }]), { workerId: 'cw1', prefix: 'ms-cancel-nats-', credentials: 'user-flag' });

describe('cancel --nats', () => {
  it('returns once the worker has stopped the process, and says what was stopped', async () => {
    expect((await nats.scientist(['init', 'lab', '--run-id', 'n1'])).code).toBe(0);
    const file = path.join(nats.root, 'lab', 'runs', 'n1', 'attempts', 'long', 'long-a1', LOCAL_FILES.started);
    const pgid = await vi.waitFor(() => (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid, { timeout: 30_000 });
    await vi.waitFor(() => expect(groupMembers(pgid).length).toBeGreaterThanOrEqual(2), { timeout: 20_000 });
    const cancel = await nats.scientist(['cancel', 'n1']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(groupMembers(pgid)).toEqual([]);
    expect(cancel.stdout).toMatch(new RegExp(`^accepted \\(seq \\d+\\)\\nstopped: long-a1 \\(local.default ${pgid}\\) CANCELLED\\nstopped by the worker or loop hosting the run \\(holder of its lease\\)\\n$`));
  });
});
