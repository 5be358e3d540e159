// Ranks the computed surfaces (energies.json) by the Sabatier principle: the best catalyst binds
// oxygen neither too strongly nor too weakly, so activity falls with |E_ads − optimum| (the
// volcano). Also checks the cheap descriptor: least-squares fit of E_ads against the d-band
// centre, with R². Writes results.json and ranking.csv.
import { readFileSync, writeFileSync } from 'node:fs';

const { optimum_eV: optimum, results } = JSON.parse(readFileSync('energies.json', 'utf8'));

const ranking = results
  .map((r) => ({ id: r.id, adsorption_energy_eV: r.adsorption_energy_eV, activity: Number((-Math.abs(r.adsorption_energy_eV - optimum)).toFixed(4)) }))
  .sort((a, b) => b.activity - a.activity || a.id.localeCompare(b.id))
  .map((r, i) => ({ rank: i + 1, ...r }));

function linearFit(xs, ys) {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  const sxx = xs.reduce((s, v) => s + (v - mx) ** 2, 0);
  const sxy = xs.reduce((s, v, i) => s + (v - mx) * (ys[i] - my), 0);
  const syy = ys.reduce((s, v) => s + (v - my) ** 2, 0);
  if (sxx === 0 || syy === 0) return null;
  const slope = sxy / sxx;
  return { slope: Number(slope.toFixed(4)), intercept: Number((my - slope * mx).toFixed(4)), r2: Number(((sxy * sxy) / (sxx * syy)).toFixed(4)) };
}
const descriptorFit = linearFit(results.map((r) => r.d_band_center_eV), results.map((r) => r.adsorption_energy_eV));

writeFileSync('ranking.csv', `rank,id,adsorption_energy_eV,activity\n${ranking.map((r) => `${r.rank},${r.id},${r.adsorption_energy_eV},${r.activity}`).join('\n')}\n`);
writeFileSync('results.json', `${JSON.stringify({ optimum_eV: optimum, ranking, descriptor_fit: descriptorFit }, null, 2)}\n`);
console.log(`best catalyst: ${ranking[0]?.id ?? 'none'}`);
