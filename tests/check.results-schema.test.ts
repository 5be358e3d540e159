import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Campaign } from '../index.ts';
import { inputSchemaProblem, schemaMismatch } from '../events/json-schema.ts';
import type { JsonValue } from '../events/json.ts';
import { checkCampaign, formatCheckReport } from '../testing/index.ts';
import { schemaArbitrary } from '../testing/schema-arbitrary.ts';

// A task's resultsSchema is what checkCampaign draws its completed results from when the user
// gives no arbitrary: every drawn value must satisfy the schema the run itself checks results with.

const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);
const SEED = process.env.PROPERTY_SEED !== undefined ? Number(process.env.PROPERTY_SEED) : 20261202;

type Schema = { [key: string]: JsonValue };
const sorted = ([a, b]: [number, number]): [number, number] => (a <= b ? [a, b] : [b, a]);

/** Schemas of the subset the generator draws from, nested a few levels. */
const schemas: fc.Arbitrary<Schema> = fc.letrec<{ schema: Schema; leaf: Schema; array: Schema; object: Schema }>((tie) => ({
  schema: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('array'), tie('object')),
  leaf: fc.oneof(
    fc.constantFrom<Schema>({ type: 'null' }, { type: 'boolean' }, {}, { type: ['string', 'null'] }, { const: 'fixed' }),
    fc.tuple(fc.nat(4), fc.nat(4)).map(sorted).map(([min, max]) => ({ type: 'string', minLength: min, maxLength: max })),
    fc.tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 })).map(sorted).map(([min, max]) => ({ type: 'integer', minimum: min, maximum: max })),
    fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.boolean()).map(([a, b, open]): Schema => {
      const [min, max] = sorted([a === 0 ? 0 : a, b === 0 ? 0 : b]);
      return open && max - min > 1e-9 ? { type: 'number', exclusiveMinimum: min, exclusiveMaximum: max } : { type: 'number', minimum: min, maximum: max };
    }),
    fc.uniqueArray(fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.boolean(), fc.constant(null)), { minLength: 1, maxLength: 4 }).map((values) => ({ enum: values })),
  ),
  array: fc.record({ items: tie('schema'), bounds: fc.tuple(fc.nat(3), fc.nat(3)).map(sorted) }).map(({ items, bounds: [min, max] }) => ({ type: 'array', items, minItems: min, maxItems: max })),
  object: fc.dictionary(fc.constantFrom('a', 'b', 'score', 'energy'), tie('schema'), { maxKeys: 3 }).chain((properties) =>
    fc.subarray(Object.keys(properties)).map((required) => ({ type: 'object', properties, required })),
  ),
})).schema;

describe('the results arbitrary drawn from a resultsSchema', () => {
  it('draws only values the schema allows (the run checks results with the same schema)', () => {
    const drawn = schemas.chain((schema) => fc.tuple(fc.constant(schema), fc.array(schemaArbitrary(schema, 't'), { minLength: 1, maxLength: 5 })));
    fc.assert(
      fc.property(drawn, ([schema, values]) => {
        expect(inputSchemaProblem(schema, 'resultsSchema')).toBeNull();
        for (const value of values) expect(schemaMismatch(schema, value), `${JSON.stringify(value)} against ${JSON.stringify(schema)}`).toBeNull();
      }),
      { numRuns: RUNS * 3, seed: SEED },
    );
  });

  it('refuses a keyword it cannot draw from, naming the task and the keyword', () => {
    expect(() => schemaArbitrary({ type: 'object', properties: { name: { type: 'string', pattern: '^E' } } }, 'screen_E01')).toThrow(
      /task screen_E01: resultsSchema\.properties\.name: keyword "pattern" is not supported by checkCampaign's generator/,
    );
    expect(() => schemaArbitrary({ type: 'integer', minimum: 3, maximum: 2 }, 'x')).toThrow(/task x: resultsSchema: no integer lies between its bounds/);
    expect(() => schemaArbitrary({ type: 'number', exclusiveMinimum: 0, exclusiveMaximum: Number.MIN_VALUE }, 'x')).toThrow(/task x: resultsSchema: no number lies between its bounds/);
  });
});

/** One task whose results.json holds an energy the schema lets be negative; analyze takes its square root. */
const energyCampaign = (energy: JsonValue): Campaign<{ root: number }> => ({
  plan: (state) => (state === null ? { tasks: [{ id: 'relax', command: 'true', resultsSchema: { type: 'object', properties: { energy }, required: ['energy'] } }] } : null),
  analyze: (_state, results) => {
    const value = (results.relax?.data as { energy: number } | undefined)?.energy ?? 0;
    if (value < 0) throw new RangeError(`cannot take the square root of energy ${value}`);
    return { root: Math.sqrt(value) };
  },
});

describe('checkCampaign draws completed results from the task resultsSchema', () => {
  it('catches an analyze that breaks on a value the schema allows (a negative energy), shrunk to the smallest', async () => {
    const report = await checkCampaign({ campaign: energyCampaign({ type: 'integer', minimum: -100, maximum: 100 }), runs: RUNS, seed: SEED });
    const text = formatCheckReport(report);
    expect(report.ok, text).toBe(false);
    expect(report.failure!.story, text).toEqual(['analyze threw RangeError: cannot take the square root of energy -1']);
  }, 60_000);

  it('passes the same campaign when the schema allows no negative energy', async () => {
    const report = await checkCampaign({ campaign: energyCampaign({ type: 'number', minimum: 0, maximum: 100 }), runs: RUNS, seed: SEED });
    expect(report.ok, formatCheckReport(report)).toBe(true);
  }, 60_000);

  it("the user's arbitrary wins over the schema", async () => {
    const report = await checkCampaign({
      campaign: energyCampaign({ type: 'integer', minimum: -100, maximum: 100 }),
      results: () => fc.record({ energy: fc.integer({ min: 0, max: 9 }) }),
      runs: RUNS,
      seed: SEED,
    });
    expect(report.ok, formatCheckReport(report)).toBe(true);
  }, 60_000);

  it('a resultsSchema it cannot draw from fails the check itself, naming the task and the keyword', async () => {
    const campaign = energyCampaign({ type: 'number', multipleOf: 0.5 });
    await expect(checkCampaign({ campaign, runs: RUNS, seed: SEED })).rejects.toThrow(/task relax: resultsSchema\.properties\.energy: keyword "multipleOf" is not supported/);
  }, 60_000);
});
