#!/usr/bin/env node
// A simulated lab robot for the thin_film_lab demo.
//
//   node workspaces/demos/thin_film_lab/robot.mjs <runsDir> [--once]
//
// Scans <runsDir> (recursively) every 200 ms for `experiment_request.json` files written by the
// experiment operator. For each request that has no `experiment_result.json` (and was not
// cancelled) it "deposits" the film, measures it, writes `profile.csv` and then
// `experiment_result.json` next to the request — each through a temporary file and a rename, so
// the orchestrator never reads half a file. With --once it scans once and exits; otherwise it
// runs until SIGTERM / SIGINT.
//
// The robot's physics is the "truth" the prediction does not know exactly: the real deposition
// rate is ~8 % lower and falls with substrate temperature (re-sputtering), the film thins towards
// the wafer edge (the reported thickness is the mean of an 11-point radial profile), films are
// ~6 % more resistive, thin films suffer a size effect, and every measurement has ±1.5 %
// deterministic noise (seeded by the task and the request, so the demo is reproducible).
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const REQUEST = 'experiment_request.json';
const RESULT = 'experiment_result.json';
const CANCELLED = 'cancelled.json';
const POLL_MS = 200;
const MAX_DEPTH = 8;

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

function writeAtomic(file, content) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/** Attempt directories under `dir` holding a request still waiting for its result. */
function pendingRequestDirs(dir, depth = 0, found = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found; // removed while scanning
  }
  if (entries.some((e) => e.isFile() && e.name === REQUEST) && !existsSync(path.join(dir, RESULT)) && !existsSync(path.join(dir, CANCELLED))) {
    found.push(dir);
  }
  if (depth < MAX_DEPTH) {
    // Directories only, never symlinks: the robot must not wander out of the runs folder.
    for (const entry of entries) if (entry.isDirectory()) pendingRequestDirs(path.join(dir, entry.name), depth + 1, found);
  }
  return found;
}

/** Deposits and measures the film the request describes; returns the result file's content. */
function runExperiment(envelope, dir) {
  const recipe = envelope.request;
  const fields = ['power_W', 'time_s', 'substrate_temp_C'];
  const missing = recipe === null || typeof recipe !== 'object' ? fields : fields.filter((f) => typeof recipe[f] !== 'number');
  if (missing.length > 0) return { status: 'FAILED', error: `request lacks numeric ${missing.join(', ')}` };
  const { power_W: power, time_s: time, substrate_temp_C: temp } = recipe;
  if (power > 400 || temp > 450) return { status: 'FAILED', error: `refused: ${power} W / ${temp} °C is outside the tool's safe range` };

  const noise = mulberry32(hashString(`${envelope.task_id}:${JSON.stringify(recipe)}`));
  const jitter = () => 1 + 0.03 * (noise() - 0.5); // ±1.5 %
  const rate = 0.92 * 0.0035 * Math.max(0, power - 20) * (1 - 0.0003 * (temp - 25));
  const centreThickness = rate * time * jitter();
  // Radial profile across a 100 mm wafer: sputtered films thin towards the edge.
  const profile = Array.from({ length: 11 }, (_, i) => {
    const r = i * 5;
    return { r_mm: r, thickness_nm: centreThickness * (1 - 4e-5 * r * r) * jitter() };
  });
  const mean = profile.reduce((s, p) => s + p.thickness_nm, 0) / profile.length;
  const spread = Math.max(...profile.map((p) => p.thickness_nm)) - Math.min(...profile.map((p) => p.thickness_nm));
  const bulkRho = 1.06 * (180 + 900 * Math.exp(-(temp - 25) / 80) + 0.002 * (temp - 25) ** 2);
  const rho = bulkRho * (1 + 3 / mean) * jitter(); // thin-film size effect
  const round = (v, digits) => Number(v.toFixed(digits));

  writeAtomic(path.join(dir, 'profile.csv'), `r_mm,thickness_nm\n${profile.map((p) => `${p.r_mm},${p.thickness_nm.toFixed(2)}`).join('\n')}\n`);
  return {
    status: 'COMPLETED',
    data: {
      thickness_nm: round(mean, 2),
      uniformity_pct: round((100 * spread) / (2 * mean), 2),
      resistivity_uohm_cm: round(rho, 2),
      sheet_resistance_ohm_sq: round((10 * rho) / mean, 3),
      instrument: 'simulated-sputter-robot',
    },
    files: ['profile.csv'],
  };
}

function scan(runsDir) {
  for (const dir of pendingRequestDirs(runsDir)) {
    let envelope;
    try {
      envelope = JSON.parse(readFileSync(path.join(dir, REQUEST), 'utf8'));
    } catch (error) {
      console.error(`[robot] cannot read ${path.join(dir, REQUEST)} yet: ${error.message}`);
      continue;
    }
    let result;
    try {
      result = runExperiment(envelope, dir);
    } catch (error) {
      result = { status: 'FAILED', error: `robot fault: ${error.message}` };
    }
    writeAtomic(path.join(dir, RESULT), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`[robot] ${envelope.task_id ?? dir}: ${result.status}${result.error ? ` (${result.error})` : ''}`);
  }
}

const args = process.argv.slice(2);
const once = args.includes('--once');
const runsDir = args.find((a) => !a.startsWith('--'));
if (runsDir === undefined) {
  console.error('usage: node robot.mjs <runsDir> [--once]');
  process.exit(2);
}
if (once) {
  scan(runsDir);
} else {
  console.log(`[robot] watching ${path.resolve(runsDir)} (Ctrl-C or SIGTERM to stop)`);
  const timer = setInterval(() => scan(runsDir), POLL_MS);
  const stop = () => {
    clearInterval(timer);
    console.log('[robot] stopped');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
