// Cheap pre-screen of a library of metal surfaces (library.json) with the d-band model: the
// oxygen binding energy is estimated from the surface's d-band centre by a linear scaling
// relation, and the surfaces whose estimate lies within `window_eV` of the Sabatier optimum
// are proposed for the expensive calculation. Writes results.json.
import { readFileSync, writeFileSync } from 'node:fs';

const { surfaces, optimum_eV: optimum, window_eV: window } = JSON.parse(readFileSync('library.json', 'utf8'));

// Toy Hammer–Nørskov scaling: a d-band closer to the Fermi level binds oxygen more strongly.
const estimate = (dBand) => Number((0.9 * dBand - 0.2).toFixed(3));

const scored = surfaces.map((s) => ({ ...s, estimated_E_eV: estimate(s.d_band_center_eV) }));
const candidates = scored.filter((s) => Math.abs(s.estimated_E_eV - optimum) <= window);
const excluded = scored.filter((s) => !candidates.includes(s)).map((s) => ({ id: s.id, estimated_E_eV: s.estimated_E_eV }));

writeFileSync('results.json', `${JSON.stringify({ candidates, excluded }, null, 2)}\n`);
writeFileSync('candidates.csv', `id,d_band_center_eV,estimated_E_eV\n${candidates.map((c) => `${c.id},${c.d_band_center_eV},${c.estimated_E_eV}`).join('\n')}\n`);
console.log(`proposed ${candidates.length} of ${surfaces.length}: ${candidates.map((c) => c.id).join(', ')}`);
