// Screens one liquid electrolyte with a toy physical model (no fitting, no randomness):
//   viscosity      Grunberg–Nissan mixing of the solvents, then exponential salt thickening
//   ion pairing    dissociated fraction from the pairing equilibrium K_A·c·α² + α − 1 = 0,
//                  K_A growing as the mixture's dielectric constant falls (Bjerrum-like)
//   conductivity   Walden rule (Λ·η constant) times the free-ion concentration
//   oxidation      anion stability plus the known widening in concentrated electrolytes
// Reads candidate.json, writes results.json. A salt above its solubility limit cannot be
// made: the script fails (exit 1), as a real screening job would for an unphysical input.
import { readFileSync, writeFileSync } from 'node:fs';

/** Per-salt constants: Walden product (S·cm²/mol·cP), pairing constant, thickening (L/mol), stability (V vs Li), solubility (mol/L). */
const SALTS = {
  LiPF6: { walden: 40, pairing: 0.5, thickening: 0.55, oxidationV: 4.8, solubility: 2.0 },
  LiTFSI: { walden: 36, pairing: 0.3, thickening: 0.6, oxidationV: 4.4, solubility: 3.0 },
  LiFSI: { walden: 42, pairing: 0.35, thickening: 0.45, oxidationV: 4.3, solubility: 5.0 },
  LiBOB: { walden: 30, pairing: 0.8, thickening: 0.9, oxidationV: 4.5, solubility: 1.0 },
};
/** Solvent viscosity (cP, 40 °C) and relative permittivity. */
const SOLVENTS = { EC: { viscosity: 1.9, permittivity: 89.8 }, DMC: { viscosity: 0.59, permittivity: 3.1 } };

const candidate = JSON.parse(readFileSync('candidate.json', 'utf8'));
const salt = SALTS[candidate.salt];
if (salt === undefined) throw new Error(`unknown salt ${candidate.salt}`);
const c = candidate.concentration_M;
const x = candidate.ec_fraction;

if (c > salt.solubility) {
  console.error(`${candidate.id}: ${c} M ${candidate.salt} exceeds its solubility (${salt.solubility} M): the salt precipitates`);
  process.exit(1);
}

const solventViscosity = Math.exp(x * Math.log(SOLVENTS.EC.viscosity) + (1 - x) * Math.log(SOLVENTS.DMC.viscosity));
const viscosity = solventViscosity * Math.exp(salt.thickening * c);
const permittivity = x * SOLVENTS.EC.permittivity + (1 - x) * SOLVENTS.DMC.permittivity;
const pairingConstant = salt.pairing * Math.exp(56 / permittivity);
const kc = pairingConstant * c;
const dissociated = kc === 0 ? 1 : (-1 + Math.sqrt(1 + 4 * kc)) / (2 * kc);
const molarConductivity = salt.walden / viscosity; // S·cm²/mol
const conductivity = molarConductivity * dissociated * c; // mS/cm (c in mol/L)
const oxidationLimit = salt.oxidationV + 0.12 * Math.max(0, c - 2);

const round = (v, digits) => Number(v.toFixed(digits));
const result = {
  id: candidate.id,
  salt: candidate.salt,
  concentration_M: c,
  ec_fraction: x,
  viscosity_cP: round(viscosity, 3),
  permittivity: round(permittivity, 2),
  dissociated_fraction: round(dissociated, 4),
  conductivity_mS_cm: round(conductivity, 3),
  oxidation_limit_V: round(oxidationLimit, 3),
};
writeFileSync('results.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(`${candidate.id}: σ = ${result.conductivity_mS_cm} mS/cm, η = ${result.viscosity_cP} cP, E_ox = ${result.oxidation_limit_V} V`);
