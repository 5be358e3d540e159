// Simulates one polymer coating (input.json: {id, params: {ptfe_fraction, crosslink_density,
// thickness_um}}) and writes results.json with two properties:
//   friction   coefficient from a toy tribology model: PTFE filler lubricates until it weakens
//              the matrix; crosslinking reduces ploughing. A small deterministic "measurement
//              noise" (seeded by the parameters) keeps the surrogate's job honest.
//   dissolved  corrodent reaching the substrate after 100 h: 1-D Fickian diffusion through the
//              coating solved with explicit finite differences (surface held at c = 1,
//              substrate a perfect sink), integrating the flux at the substrate.
import { readFileSync, writeFileSync } from 'node:fs';

const { id, params } = JSON.parse(readFileSync('input.json', 'utf8'));
const { ptfe_fraction: ptfe, crosslink_density: crosslink, thickness_um: thickness } = params;

/** mulberry32: a tiny seeded PRNG, so every run of the same coating gives the same numbers. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function hashString(text) {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}
const noise = mulberry32(hashString(JSON.stringify(params)));

// Friction: lubrication by PTFE (saturating), loss of matrix strength above 30 % PTFE.
const friction = 0.08 + 0.35 * Math.exp(-8 * ptfe) + 3 * Math.max(0, ptfe - 0.3) ** 2 - 0.04 * crosslink + 0.01 * (noise() - 0.5);

// Dissolution: diffusivity (µm²/h) falls with crosslinking; PTFE/matrix interfaces are fast paths.
const diffusivity = 5 * Math.exp(-3 * crosslink) * (1 + 2 * ptfe);
const exposureHours = 100;
const nodes = 40;
const dx = thickness / nodes;
const dt = (0.4 * dx * dx) / diffusivity; // explicit scheme is stable for D·dt/dx² ≤ 0.5
const steps = Math.ceil(exposureHours / dt);
const step = exposureHours / steps;
const r = (diffusivity * step) / (dx * dx);
let c = new Float64Array(nodes + 1);
let next = new Float64Array(nodes + 1);
let reachedSubstrate = 0; // amount per area, in units of (surface concentration · µm)
for (let s = 0; s < steps; s += 1) {
  c[0] = 1;
  c[nodes] = 0;
  for (let i = 1; i < nodes; i += 1) next[i] = c[i] + r * (c[i - 1] - 2 * c[i] + c[i + 1]);
  next[0] = 1;
  next[nodes] = 0;
  reachedSubstrate += (diffusivity * (next[nodes - 1] - next[nodes]) / dx) * step;
  [c, next] = [next, c];
}
const dissolved = 2.0 * reachedSubstrate; // µg/cm² for this toy chemistry

const round = (v, digits) => Number(v.toFixed(digits));
const result = {
  id,
  params,
  friction: round(friction, 5),
  dissolved_ug_cm2: round(dissolved, 5),
  diffusivity_um2_h: round(diffusivity, 5),
  time_steps: steps,
};
writeFileSync('results.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(`${id}: friction ${result.friction}, dissolved ${result.dissolved_ug_cm2} µg/cm² (${steps} steps)`);
