/** Levenshtein distance (small strings: command and option names). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** The candidate closest to `input` if it is plausibly a typo of it (or a prefix), else undefined. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.filter((c) => c.startsWith(input) && input.length >= 2);
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  const allowed = Math.max(1, Math.floor(input.length / 3));
  for (const candidate of candidates) {
    // The distance is at least the difference in length: a far longer input is no typo (and a
    // pasted 200 kB argument would cost seconds of Levenshtein).
    if (Math.abs(input.length - candidate.length) > allowed) continue;
    const d = distance(input, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Allow about one typo per three characters: "stauts" → "status", but "x" suggests nothing.
  return bestDistance <= allowed ? best : undefined;
}
