// Aggregates the screening results (screening.json, staged by the campaign): finds the Pareto
// front (high conductivity, high oxidation limit, low viscosity) and ranks every screened
// candidate by a weighted score of min–max normalised properties. Writes results.json and a
// human-readable report.md.
import { readFileSync, writeFileSync } from 'node:fs';

const { screened, failed, weights } = JSON.parse(readFileSync('screening.json', 'utf8'));

// Objectives oriented so that larger is better.
const objectives = (c) => [c.conductivity_mS_cm, c.oxidation_limit_V, -c.viscosity_cP];
const dominates = (a, b) => {
  const [oa, ob] = [objectives(a), objectives(b)];
  return oa.every((v, i) => v >= ob[i]) && oa.some((v, i) => v > ob[i]);
};
const normaliser = (key) => {
  const values = screened.map((c) => c[key]);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return (v) => (hi === lo ? 1 : (v - lo) / (hi - lo));
};
const nCond = normaliser('conductivity_mS_cm');
const nOx = normaliser('oxidation_limit_V');
const nVisc = normaliser('viscosity_cP');

const ranking = screened
  .map((c) => ({
    id: c.id,
    score: Number((weights.conductivity * nCond(c.conductivity_mS_cm) + weights.oxidation * nOx(c.oxidation_limit_V) + weights.viscosity * (1 - nVisc(c.viscosity_cP))).toFixed(4)),
    pareto: !screened.some((other) => other !== c && dominates(other, c)),
    conductivity_mS_cm: c.conductivity_mS_cm,
    oxidation_limit_V: c.oxidation_limit_V,
    viscosity_cP: c.viscosity_cP,
  }))
  .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
  .map((entry, index) => ({ rank: index + 1, ...entry }));

const report = [
  '# Electrolyte screening report',
  '',
  `Screened: ${screened.length}, failed: ${failed.length}${failed.length ? ` (${failed.join(', ')})` : ''}`,
  '',
  '| rank | id | score | Pareto | σ (mS/cm) | E_ox (V) | η (cP) |',
  '|---|---|---|---|---|---|---|',
  ...ranking.map((r) => `| ${r.rank} | ${r.id} | ${r.score} | ${r.pareto ? 'yes' : ''} | ${r.conductivity_mS_cm} | ${r.oxidation_limit_V} | ${r.viscosity_cP} |`),
  '',
];
writeFileSync('report.md', report.join('\n'));
writeFileSync('results.json', `${JSON.stringify({ ranking, failed, best: ranking[0]?.id ?? null }, null, 2)}\n`);
console.log(`best electrolyte: ${ranking[0]?.id ?? 'none'}`);
