import fc from 'fast-check';
import { expect } from 'vitest';
import { isMatterStackError, type ErrorCode } from '../../events/errors.ts';

/** Runs per fuzz property: small by default, `PROPERTY_RUNS=10000` for depth. */
export const FUZZ_RUNS = Number(process.env.PROPERTY_RUNS ?? 100);

/** Runs for the properties that start real processes (a fraction of FUZZ_RUNS, at least a handful). */
export function slowRuns(divisor: number, floor: number): number {
  return Math.max(floor, Math.floor(FUZZ_RUNS / divisor));
}

/** Strings a hostile user would try: control characters, unicode tricks, traversal, prototype keys, numbers in disguise. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '-',
  '--',
  '-1',
  '0',
  'NaN',
  'Infinity',
  '1e309',
  '9007199254740993',
  '../',
  '../../etc/passwd',
  '/etc/passwd',
  'a/../../b',
  '..\\..\\windows',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '\u0000',
  'a\u0000b',
  'line\nbreak',
  'carriage\rreturn',
  'tab\there',
  '\u001b[31mred\u001b[0m',
  '\u001b]0;title\u0007',
  '\u202eevil',
  '\u200b',
  '\ud800',
  '🧪🔬',
  'ünïcødé',
  'Ω≈ç√',
  '%s%n%x',
  '${HOME}',
  '$(rm -rf /)',
  '`id`',
  "'; DROP TABLE events; --",
  '{"__proto__":{"polluted":true}}',
  'ms.cmd.>',
  '*',
  'a.b',
  'x'.repeat(65),
  'y'.repeat(10_000),
];

/** One hostile string: a known nasty one, random text (any unicode), or a long run of a character. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20, unit: 'binary' }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', '.', '/', '\n', 'é'), fc.integer({ min: 64, max: 200_000 })).map(([c, n]) => c.repeat(n)) },
);

/** A valid-looking id, or a hostile one. */
export const maybeId: fc.Arbitrary<string> = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), nastyString);

/** Hostile numbers: negative, NaN, infinite, fractional, unsafe. */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(-1, 0, 0.5, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_SAFE_INTEGER + 2, 1e309, -1e-9, 2 ** 31, 2 ** 53),
  fc.double(),
  fc.integer(),
);

/** A value nested `depth` levels deep (arrays or objects). */
export function deeplyNested(depth: number, asObject: boolean): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = asObject ? { a: value } : [value];
  // fast-check would print a counterexample by recursion (and overflow): name it instead.
  Object.defineProperty(value, fc.toStringMethod, { value: () => `deeplyNested(${depth}, ${asObject})` });
  return value;
}

/** Any JSON-ish value, hostile leaves and keys included (`__proto__`, `constructor`, nasty strings and numbers). */
export const nastyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    nastyNumber,
    nastyString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', 'tasks', 'kind'), fc.string({ maxLength: 6 })), tie('value'), {
      maxKeys: 4,
    }),
  ),
})).value;

/** Asserts `error` is a MatterStackError (of one of `codes`) with a one-line message: the clean way to refuse. */
export function expectCleanError(error: unknown, codes: readonly ErrorCode[]): void {
  if (!isMatterStackError(error)) throw new Error(`not a MatterStackError: ${String(error)}`, { cause: error });
  expect(codes).toContain(error.code);
  expect(error.message.length).toBeGreaterThan(0);
}

/** Calls `fn`; returns its value or the error it threw (so a property can judge either). */
export function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}
