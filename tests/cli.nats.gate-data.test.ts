import { describe, expect, it, vi } from 'vitest';
import { natsCliFixture } from './nats-fixtures/cli-worker.ts';

// Gate decision data over NATS: a real nats-server, a `matterstack worker` process hosting the run,
// the CLI binary as the scientist. The worker's machine refuses data that breaks the gate's
// inputSchema (naming the field), takes a matching approve, and analyze gets the data; status over
// NATS carries the campaign state whole.
const CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [{ id: 'gate', kind: 'gate', inputSchema: { type: 'object', properties: { batch: { type: 'string' } }, required: ['batch'] } }] };
}
export function analyze(state, results) { return { received: results.gate, pad: 'p'.repeat(500) }; }
`;

const nats = natsCliFixture(CAMPAIGN, { workerId: 'gd_w1', prefix: 'ms-cli-nats-gate-data-' });
const scientist = nats.scientist;

interface StatusJson {
  status: string;
  tasks: { id: string; status: string }[];
  campaignState: { iteration: number; state: unknown } | null;
}

describe('gate decision data over NATS (real nats-server, worker process, CLI binary)', () => {
  it('an approve whose data breaks the inputSchema is refused naming the field; a matching one reaches analyze', async () => {
    expect((await scientist(['init', 'lab', '--run-id', 'n1'])).code).toBe(0);
    const waiting = await vi.waitFor(async () => {
      const status = (await scientist(['status', 'n1', '--json'])).json<StatusJson>();
      expect(status.tasks.find((t) => t.id === 'gate')?.status, nats.worker.output().stderr).toBe('WAITING_EXTERNAL');
      return status;
    }, { timeout: 20_000, interval: 200 });
    expect(waiting.campaignState).toMatchObject({ iteration: 0, state: null });

    const bad = await scientist(['approve', 'n1', 'gate', '--by', 'alice', '--data', '{"batch": 7}']);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/^error: approve rejected for run n1: data\.batch: .* \(inputSchema of gate gate\) \[GATE_DATA_INVALID\]\n$/);
    const still = (await scientist(['status', 'n1', '--json'])).json<StatusJson>();
    expect(still.tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');

    const ok = await scientist(['approve', 'n1', 'gate', '--by', 'alice', '--comment', 'go', '--data', '{"batch": "B7"}']);
    expect(ok.code, ok.stderr).toBe(0);
    const done = await vi.waitFor(async () => {
      const status = (await scientist(['status', 'n1', '--json'])).json<StatusJson>();
      expect(status.status, nats.worker.output().stderr).toBe('COMPLETED');
      return status;
    }, { timeout: 20_000, interval: 200 });
    const expected = {
      received: { status: 'COMPLETED', files: {}, data: { batch: 'B7' }, decision: { verb: 'approved', by: 'alice', principal: 'scientist', comment: 'go' } },
      pad: 'p'.repeat(500),
    };
    expect(done.campaignState).toMatchObject({ iteration: 1, state: expected });
    expect(JSON.parse((await scientist(['status', 'n1', '--state'])).stdout)).toEqual(expected);
  });
});
