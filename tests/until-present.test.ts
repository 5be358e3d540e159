import { describe, expect, it } from 'vitest';
import { untilPresent } from '../operators/until-present.ts';

describe('untilPresent', () => {
  it('gives the value as soon as a read finds it', async () => {
    let reads = 0;
    const value = await untilPresent(() => (++reads >= 3 ? `found at read ${reads}` : null), 5_000);
    expect(value).toBe('found at read 3');
  });

  it('gives null once the timeout has passed without a value', async () => {
    const started = Date.now();
    let reads = 0;
    const value = await untilPresent(() => {
      reads += 1;
      return null;
    }, 60);
    expect(value).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
    expect(reads).toBeGreaterThan(1);
  });
});
