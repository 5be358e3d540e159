import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ValidNewEvent } from '../events/envelope.ts';
import { envelopes, splitRecords } from '../storage/jetstream-codec.ts';
import { makeEvent } from './event-log.contract.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 200);
const decode = (data: Uint8Array): { seq: number }[] => JSON.parse(Buffer.from(data).toString('utf8')) as { seq: number }[];

describe('splitRecords: a batch as JetStream messages', () => {
  it('keeps every envelope once and in order; a message exceeds the target only when it holds one envelope, never the maximum', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 600, max: 4000 }), (sizes, limit) => {
        const maxBytes = 5000;
        const events = sizes.map((size) => makeEvent({ payload: { status: 'RUNNING', note: 'x'.repeat(size) } }) as ValidNewEvent);
        const records = envelopes('run_1', events, 10);
        const tooBig = records.some((record) => Buffer.byteLength(JSON.stringify(record)) + 3 > maxBytes);
        if (tooBig) {
          expect(() => splitRecords('run_1', records, limit, maxBytes)).toThrow(/larger than the server's max payload/);
          return;
        }
        const chunks = splitRecords('run_1', records, limit, maxBytes);
        const decoded = chunks.map((chunk) => decode(chunk.data));
        expect(decoded.flat().map((r) => r.seq)).toEqual(records.map((r) => r.seq));
        chunks.forEach((chunk, i) => {
          const inChunk = decoded[i]!;
          expect(chunk.firstSeq).toBe(inChunk[0]!.seq);
          expect(chunk.lastSeq).toBe(inChunk[inChunk.length - 1]!.seq);
          expect(chunk.data.length).toBeLessThanOrEqual(maxBytes);
          if (inChunk.length > 1) expect(chunk.data.length).toBeLessThanOrEqual(limit);
        });
      }),
      { numRuns: RUNS },
    );
  });
});
