// The "expensive" step: the adsorption energy of an oxygen atom on an fcc(111) slab (surface.json),
// with Morse pair potentials between O and every metal atom of a 3-layer slab. For each
// high-symmetry site (top, hcp hollow, fcc hollow) the height above the surface is optimised by
// golden-section search; the adsorption energy is the lowest site energy. Writes results.json.
import { readFileSync, writeFileSync } from 'node:fs';

const surface = JSON.parse(readFileSync('surface.json', 'utf8'));
const { De, alpha, r0 } = surface.morse;
const d = surface.lattice_A / Math.SQRT2; // nearest-neighbour distance in the (111) plane
const layerSpacing = surface.lattice_A / Math.sqrt(3);
const a1 = [d, 0];
const a2 = [d / 2, (d * Math.sqrt(3)) / 2];
const CUTOFF = 8; // Å: the Morse tail beyond this is negligible
const CELLS = 6; // slab extends ±CELLS lattice vectors around the site

// ABC stacking: layer k is shifted by k·(a1 + a2)/3.
const atoms = [];
for (let layer = 0; layer < 3; layer += 1) {
  const shift = [(layer * (a1[0] + a2[0])) / 3, (layer * (a1[1] + a2[1])) / 3];
  for (let i = -CELLS; i <= CELLS; i += 1) {
    for (let j = -CELLS; j <= CELLS; j += 1) {
      atoms.push([i * a1[0] + j * a2[0] + shift[0], i * a1[1] + j * a2[1] + shift[1], -layer * layerSpacing]);
    }
  }
}

const morse = (r) => De * ((1 - Math.exp(-alpha * (r - r0))) ** 2 - 1);
function energyAt([x, y], z) {
  let total = 0;
  for (const [ax, ay, az] of atoms) {
    const r = Math.hypot(x - ax, y - ay, z - az);
    if (r < CUTOFF) total += morse(r);
  }
  return total;
}

function goldenSection(f, lo, hi, tolerance = 1e-4) {
  const ratio = (Math.sqrt(5) - 1) / 2;
  let [a, b] = [lo, hi];
  while (b - a > tolerance) {
    const c = b - ratio * (b - a);
    const dd = a + ratio * (b - a);
    if (f(c) < f(dd)) b = dd;
    else a = c;
  }
  return (a + b) / 2;
}

const sites = {
  top: [0, 0],
  hcp: [(a1[0] + a2[0]) / 3, (a1[1] + a2[1]) / 3],
  fcc: [(2 * (a1[0] + a2[0])) / 3, (2 * (a1[1] + a2[1])) / 3],
};
const bySite = Object.entries(sites).map(([site, xy]) => {
  const height = goldenSection((z) => energyAt(xy, z), 0.5, 4);
  return { site, height_A: Number(height.toFixed(3)), energy_eV: Number(energyAt(xy, height).toFixed(4)) };
});
const best = bySite.reduce((a, b) => (b.energy_eV < a.energy_eV ? b : a));

const result = { id: surface.id, site: best.site, height_A: best.height_A, adsorption_energy_eV: best.energy_eV, sites: bySite, slab_atoms: atoms.length };
writeFileSync('results.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(`${surface.id}: E_ads(O) = ${best.energy_eV} eV at the ${best.site} site, ${best.height_A} Å above the surface`);
