import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWorkspace, formatCheckReport } from '../testing/index.ts';

// The demos ship with their checks (workspaces/demos/<demo>/campaign.check.ts): `matterstack check`
// runs them; here a few scenarios each (PROPERTY_RUNS=1000 for more), with a fixed seed per run of
// the suite printed on failure.
const RUNS = Number(process.env.PROPERTY_RUNS ?? 20);
const DEMOS = path.join(import.meta.dirname, '..', 'workspaces', 'demos');

describe('the demos pass their own checks (matterstack check)', () => {
  for (const demo of ['battery_screening', 'catalyst_human_in_loop', 'coatings_active_learning', 'thin_film_lab']) {
    it(demo, async () => {
      const report = await checkWorkspace(path.join(DEMOS, demo), { runs: RUNS });
      expect(report.ok, formatCheckReport(report)).toBe(true);
      expect(report.scenarios).toBe(RUNS);
      expect(report.coverage.exercised.length).toBeGreaterThan(5);
    }, 120_000);
  }

  it('a Python campaign (campaign.py, a process per call) is checked the same way', async () => {
    const report = await checkWorkspace(path.join(DEMOS, 'battery_screening_py'), { runs: 2 });
    expect(report.ok, formatCheckReport(report)).toBe(true);
    expect(report.scenarios).toBe(2);
  }, 300_000);
});
