// Predicts a deposition recipe for the target film (target.json): the highest power whose rate
// stays below the quality limit, the substrate temperature minimising resistivity (golden-section
// search), and the time to reach the target thickness. Writes results.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { depositionRate, resistivity, sheetResistance, RATE_PER_WATT, THRESHOLD_W } from './film-model.mjs';

const target = JSON.parse(readFileSync('target.json', 'utf8'));

/** Golden-section search for the minimum of a unimodal `f` on [lo, hi]. */
function goldenSection(f, lo, hi, tolerance = 0.01) {
  const ratio = (Math.sqrt(5) - 1) / 2;
  let [a, b] = [lo, hi];
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  while (b - a > tolerance) {
    if (f(c) < f(d)) b = d;
    else a = c;
    c = b - ratio * (b - a);
    d = a + ratio * (b - a);
  }
  return (a + b) / 2;
}

// Power: as fast as film quality allows, on the supply's 5 W steps.
const powerW = Math.floor((THRESHOLD_W + target.max_rate_nm_s / RATE_PER_WATT) / 5) * 5;
const rate = depositionRate(powerW);
const tempC = Math.round(goldenSection(resistivity, target.temp_range_C[0], target.temp_range_C[1]));
const timeS = Math.round(target.thickness_nm / rate);
const thickness = rate * timeS;
const rho = resistivity(tempC);

const round = (v, digits) => Number(v.toFixed(digits));
const prediction = {
  material: target.material,
  power_W: powerW,
  substrate_temp_C: tempC,
  time_s: timeS,
  rate_nm_s: round(rate, 4),
  thickness_nm: round(thickness, 2),
  resistivity_uohm_cm: round(rho, 2),
  sheet_resistance_ohm_sq: round(sheetResistance(rho, thickness), 3),
};
writeFileSync('results.json', `${JSON.stringify(prediction, null, 2)}\n`);
console.log(`recipe: ${powerW} W, ${tempC} °C, ${timeS} s → ${prediction.thickness_nm} nm, ${prediction.sheet_resistance_ohm_sq} Ω/sq`);
