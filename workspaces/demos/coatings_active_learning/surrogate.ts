/**
 * The active-learning pieces of the coatings campaign, kept apart from the plumbing:
 * the design space, a seeded candidate generator, an inverse-distance-weighted k-nearest-
 * neighbour surrogate and a lower-confidence-bound batch picker. Pure functions, no I/O.
 */

export type CoatingParams = { ptfe_fraction: number; crosslink_density: number; thickness_um: number };

/** Bounds of each design variable (the surrogate works in the unit cube). */
export const DESIGN_SPACE: Record<keyof CoatingParams, [number, number]> = {
  ptfe_fraction: [0, 0.4],
  crosslink_density: [0.2, 1.0],
  thickness_um: [2, 20],
};
const KEYS = Object.keys(DESIGN_SPACE) as (keyof CoatingParams)[];

/** mulberry32: a tiny seeded PRNG, so the campaign is reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

function fromUnit(unit: number[]): CoatingParams {
  const entries = KEYS.map((key, i) => {
    const [lo, hi] = DESIGN_SPACE[key];
    return [key, round(lo + (unit[i] ?? 0) * (hi - lo), 4)] as const;
  });
  return Object.fromEntries(entries) as CoatingParams;
}

export function toUnit(params: CoatingParams): number[] {
  return KEYS.map((key) => {
    const [lo, hi] = DESIGN_SPACE[key];
    return (params[key] - lo) / (hi - lo);
  });
}

/** Latin hypercube of `n` points: every variable's range is covered once per stratum. */
export function latinHypercube(n: number, seed: number): CoatingParams[] {
  const random = mulberry32(seed);
  const columns = KEYS.map(() => {
    const strata = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [strata[i], strata[j]] = [strata[j]!, strata[i]!];
    }
    return strata.map((s) => (s + random()) / n);
  });
  return Array.from({ length: n }, (_, row) => fromUnit(columns.map((column) => column[row]!)));
}

/** `n` uniformly random candidates (the pool the acquisition chooses from). */
export function randomPool(n: number, seed: number): CoatingParams[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => fromUnit(KEYS.map(() => random())));
}

const distance = (a: number[], b: number[]): number => Math.hypot(...a.map((v, i) => v - (b[i] ?? 0)));

export type Observation = { params: CoatingParams; objective: number };

/** Inverse-distance-weighted mean of the k nearest observations (exact at observed points). */
export function predict(observations: readonly Observation[], params: CoatingParams, k = 3): number {
  const x = toUnit(params);
  const nearest = observations
    .map((o) => ({ d: distance(x, toUnit(o.params)), y: o.objective }))
    .sort((a, b) => a.d - b.d)
    .slice(0, k);
  if (nearest.length === 0) throw new Error('the surrogate needs at least one observation');
  if (nearest[0]!.d < 1e-9) return nearest[0]!.y;
  const weights = nearest.map((n) => 1 / n.d ** 2);
  const total = weights.reduce((sum, w) => sum + w, 0);
  return nearest.reduce((sum, n, i) => sum + (weights[i]! * n.y) / total, 0);
}

export type Pick = { params: CoatingParams; predicted: number };

/**
 * Greedy batch by lower confidence bound: predicted objective minus `exploration` × distance to
 * the nearest point already measured or already picked, so the batch does not pile up on one spot.
 */
export function pickBatch(observations: readonly Observation[], pool: readonly CoatingParams[], size: number, exploration = 0.1): Pick[] {
  const taken = observations.map((o) => toUnit(o.params));
  const remaining = pool.map((params) => ({ params, predicted: predict(observations, params), unit: toUnit(params) }));
  const batch: Pick[] = [];
  while (batch.length < size && remaining.length > 0) {
    let bestIndex = 0;
    let bestScore = Number.POSITIVE_INFINITY;
    remaining.forEach((candidate, i) => {
      const nearestTaken = Math.min(...taken.map((t) => distance(candidate.unit, t)));
      const score = candidate.predicted - exploration * nearestTaken;
      if (score < bestScore) [bestIndex, bestScore] = [i, score];
    });
    const [chosen] = remaining.splice(bestIndex, 1);
    taken.push(chosen!.unit);
    batch.push({ params: chosen!.params, predicted: round(chosen!.predicted, 5) });
  }
  return batch;
}
