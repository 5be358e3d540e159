import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LAYERS, README, layerOf, renderLayersTable } from '../docs/layers.ts';

const REPO = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const SKIP = new Set(['node_modules', '.git', 'runs']);

/** Every source file of the repository, relative to its root. */
function sourceFiles(dir = REPO): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.') || SKIP.has(entry.name)) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|mts|mjs|js)$/.test(entry.name) ? [path.relative(REPO, full)] : [];
  });
}

// Static imports and re-exports, dynamic import(), `typeof import()` and module URLs (worker threads).
const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** The repository modules a source file imports, as repository-relative paths (data files it reads are not imports). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(REPO, file), 'utf8');
  return [...text.matchAll(SPECIFIER)]
    .map((match) => path.relative(REPO, path.resolve(REPO, path.dirname(file), match[1]!)))
    .filter((target) => /\.(ts|mts|mjs|js)$/.test(target));
}

/** The import edges that break the table, as "file → target (layer may import …)". */
function layerViolations(files: readonly string[], importsOfFile: (file: string) => string[]): string[] {
  return files.flatMap((file) => {
    const from = layerOf(file);
    if (from === undefined) return [`${file}: in no layer of docs/layers.ts`];
    return importsOfFile(file)
      .filter((target) => {
        const to = layerOf(target);
        return to === undefined || (to !== from && !from.mayImport.includes(to.path));
      })
      .map((target) => `${file} → ${target} (${from.path} may import: ${from.mayImport.join(', ') || 'nothing of ours'})`);
  });
}

describe('layers (docs/layers.ts)', () => {
  it('every import points down the table: no file imports a layer it may not', () => {
    expect(layerViolations(sourceFiles(), importsOf)).toEqual([]);
  });

  it('catches an upward import and a file outside every layer', () => {
    const imports: Record<string, string[]> = { 'machines/run.machine.ts': ['host/run-host.ts', 'events/ids.ts'], 'stray/x.ts': [] };
    expect(layerViolations(Object.keys(imports), (file) => imports[file] ?? [])).toEqual([
      'machines/run.machine.ts → host/run-host.ts (machines may import: events)',
      'stray/x.ts: in no layer of docs/layers.ts',
    ]);
  });

  it('every top-level source folder is a layer, and every layer exists', () => {
    const tops = new Set(sourceFiles().map((file) => file.split('/')[0]!));
    expect([...tops].filter((top) => layerOf(top) === undefined)).toEqual([]);
    expect(LAYERS.map((layer) => layer.path).filter((p) => !tops.has(p))).toEqual([]);
  });

  it("the README's layout section is the table (npm run docs:layers rewrites it)", () => {
    expect(readFileSync(README, 'utf8')).toContain(renderLayersTable());
  });
});
