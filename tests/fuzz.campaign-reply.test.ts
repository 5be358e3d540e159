import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CampaignRequest } from '../campaign/campaign-protocol.ts';
import { parseCommandReply } from '../campaign/command-reply.ts';
import { isMatterStackError } from '../events/errors.ts';
import { deeplyNested, expectCleanError, FUZZ_RUNS, nastyValue, outcome } from './harness/fuzz.ts';

/*
 * Fuzz: what a campaign run as a command writes on stdout. Any bytes are either a reply of the
 * protocol — whose value is then plain JSON — or one CAMPAIGN_ERROR naming the campaign and the
 * call; the parser never crashes, whatever the bytes.
 */

const REQUESTS: CampaignRequest[] = [
  { id: 1, method: 'load' },
  { id: 7, method: 'plan', state: null, runId: 'r1', iteration: 0 },
  { id: 3, method: 'analyze', state: { n: 1 }, results: {}, runId: 'r1', iteration: 2 },
];

/** Judges one stdout: a JSON value back, or a clean CAMPAIGN_ERROR about this campaign and call. */
function judge(request: CampaignRequest, stdout: string): { accepted: boolean } {
  const result = outcome(() => parseCommandReply('fuzzed', request, stdout));
  if (result.ok) {
    // What is accepted is plain JSON: it survives a round trip unchanged.
    expect(JSON.parse(JSON.stringify(result.value))).toEqual(result.value);
    return { accepted: true };
  }
  expectCleanError(result.error, ['CAMPAIGN_ERROR']);
  expect((result.error as Error).message).toMatch(new RegExp(`^campaign fuzzed: ${request.method} (failed|returned)`));
  return { accepted: false };
}

/** Replies close to the protocol's: right and wrong ids, ok flags, codes, values and extra keys. */
const nearReply = fc.record(
  {
    id: fc.oneof(fc.constantFrom(1, 3, 7), fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null)),
    ok: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null)),
    value: nastyValue,
    code: fc.oneof(fc.constantFrom('CAMPAIGN_ERROR', 'INVALID_WORKFLOW', 'NOPE'), fc.string({ maxLength: 5 })),
    message: fc.string({ maxLength: 20 }),
    extra: nastyValue,
  },
  { requiredKeys: [] },
);

/** Stdout text around a reply: whitespace, a stray print before or after, a truncation. */
const framed = fc.tuple(nearReply, fc.constantFrom('', ' \n', 'hello\n', '\n{"id":1}', '\u0000'), fc.constantFrom('', '\n', 'x', '\n\n'), fc.nat(400)).map(
  ([reply, before, after, cut]) => {
    const text = `${before}${JSON.stringify(reply)}${after}`;
    return cut % 5 === 0 ? text.slice(0, cut) : text;
  },
);

describe('fuzz: a command campaign\'s stdout → a reply or a clear CAMPAIGN_ERROR', () => {
  it('any bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REQUESTS), fc.uint8Array({ maxLength: 300 }), (request, bytes) => {
        judge(request, Buffer.from(bytes).toString('utf8'));
      }),
      { numRuns: FUZZ_RUNS * 5 },
    );
  });

  it('replies near the protocol, framed by stray output; valid ones are accepted on each run', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REQUESTS), framed, (request, stdout) => {
        judge(request, stdout);
      }),
      { numRuns: FUZZ_RUNS * 5 },
    );
    // The accepting side is exercised whatever the generator drew.
    for (const request of REQUESTS) {
      expect(judge(request, `\n${JSON.stringify({ id: request.id, ok: true, value: { tasks: [] } })}\n`).accepted).toBe(true);
      expect(judge(request, JSON.stringify({ id: request.id, ok: true, value: null })).accepted).toBe(true);
    }
  });

  it('each refusal says what is wrong', () => {
    const plan = REQUESTS[1]!;
    const reason = (stdout: string): string => {
      const result = outcome(() => parseCommandReply('c', plan, stdout));
      if (result.ok || !isMatterStackError(result.error)) throw new Error(`accepted: ${stdout}`);
      return result.error.message;
    };
    expect(reason('')).toBe('campaign c: plan failed: wrote no reply on stdout (expected one JSON document {"id": 7, "ok": true, "value": ...})');
    expect(reason('planning...\n{"id":7,"ok":true,"value":null}')).toMatch(/^campaign c: plan failed: its stdout is not one JSON document \(.*\); stdout carries only the reply, print anything else to stderr; stdout began "planning\.\.\./);
    expect(reason('{"id":7,"ok":true}')).toBe('campaign c: plan failed: its reply has no "value" (plan replies the workflow or null, analyze the new state)');
    expect(reason('{"id":7,"ok":true,"value":1,"extra":2}')).toBe('campaign c: plan failed: its reply is outside the protocol: field extra: Unrecognized key: "extra"');
    expect(reason('{"id":8,"ok":true,"value":1}')).toBe('campaign c: plan failed: its reply answers request 8, not 7');
    expect(reason('{"id":7,"ok":false,"code":"CAMPAIGN_ERROR","message":"no data"}')).toBe('campaign c: plan failed: no data');
    expect(reason(`{"id":7,"ok":true,"value":${JSON.stringify(deeplyNested(1001, false))}}`)).toBe(
      'campaign c: plan returned a workflow that is not JSON-serialisable: workflow is nested deeper than 1000 levels',
    );
    expect(reason(`${'['.repeat(200_000)}`)).toMatch(/^campaign c: plan failed: its stdout is not one JSON document/);
  });
});
