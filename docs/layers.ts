import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The one place where the folders and the imports each may make are written down.
// tests/layers.test.ts checks every import of the repository against it, and that the README's
// layout section is this table (`npm run docs:layers` rewrites it).

/** A folder of the repository (or a root file), what lives there and which folders it may import from. */
export interface Layer {
  path: string;
  holds: string;
  mayImport: readonly string[];
}

const RUNTIME = ['events', 'machines', 'projections', 'storage', 'workspace', 'operators', 'campaign', 'host', 'views', 'distributed'] as const;

/** The layers, lowest first: imports point down the table, never up. */
export const LAYERS: readonly Layer[] = [
  { path: 'events', holds: 'event and command types, their zod schemas, the envelope, subjects, ids, the error family, the `EventLog` interface', mayImport: [] },
  { path: 'machines', holds: 'the XState machines (run, attempt) and the pure domain rules they use; no I/O, no clock, no randomness', mayImport: ['events'] },
  { path: 'projections', holds: 'SQLite read models and the projector folding events into them', mayImport: ['events'] },
  { path: 'storage', holds: 'the two `EventLog` adapters: embedded SQLite and NATS JetStream (codec, run index, NATS URLs)', mayImport: ['events'] },
  { path: 'workspace', holds: "finding the workspaces root; run and attempt folder paths; a workspace's operators.yaml (operators, defaults, campaign command)", mayImport: ['events'] },
  { path: 'operators', holds: 'operators: local processes, Slurm, human gates, lab experiments', mayImport: ['events', 'workspace'] },
  { path: 'campaign', holds: "loading a campaign, calling its plan/analyze in a worker thread, plan-time workflow checks", mayImport: ['events', 'machines', 'workspace', 'operators'] },
  { path: 'host', holds: 'the run host (restore, deliver, append, effects), the effect runner, the lifecycle API, the run store', mayImport: ['events', 'machines', 'projections', 'storage', 'workspace', 'operators', 'campaign'] },
  { path: 'views', holds: 'explain, replay, evidence, logs and summaries: read-only views of a run', mayImport: ['events', 'machines', 'projections', 'storage', 'workspace', 'operators', 'campaign', 'host'] },
  { path: 'distributed', holds: 'NATS: the command service and client, workers, run leases, fenced logs', mayImport: ['events', 'machines', 'projections', 'storage', 'workspace', 'operators', 'campaign', 'host', 'views'] },
  { path: 'testing', holds: 'model-based property tests of a campaign (`matterstack/testing`: checkCampaign, `matterstack check`)', mayImport: [...RUNTIME] },
  { path: 'web', holds: 'the web view (`matterstack ui`): Hono server, token and Host/Origin guard, JSON API, live feed (SSE); `web/client`: the page (Preact, htm, dagre), bundled by esbuild', mayImport: [...RUNTIME] },
  { path: 'cli', holds: 'the `matterstack` command', mayImport: [...RUNTIME, 'testing', 'web'] },
  { path: 'index.ts', holds: 'the package API', mayImport: [...RUNTIME] },
  { path: 'bin', holds: 'the executable (starts the CLI through tsx)', mayImport: ['cli'] },
  { path: 'workspaces', holds: 'demo campaigns with their operator configs and their checks', mayImport: ['index.ts', 'testing'] },
  { path: 'harness', holds: 'test and benchmark support: a real nats-server, a three-node JetStream cluster (`npm run cluster`), a one-node Slurm, an instant operator, headless Chromium', mayImport: ['events', 'operators'] },
  { path: 'docs', holds: 'documents and the scripts that generate parts of them (the web view\'s screenshot too)', mayImport: ['events', 'bin', 'harness'] },
  { path: 'bench', holds: 'benchmarks with fixed workloads (`npm run bench`)', mayImport: [...RUNTIME, 'testing', 'web', 'cli', 'index.ts', 'bin', 'harness', 'workspaces'] },
  { path: 'tests', holds: 'vitest suites: unit, property, model-based, real nats-server and Slurm, end to end through the CLI', mayImport: [...RUNTIME, 'testing', 'web', 'cli', 'index.ts', 'bin', 'workspaces', 'docs', 'harness', 'bench'] },
  { path: 'vitest.config.ts', holds: 'test runner settings', mayImport: [] },
];

/** The layer a repository-relative path belongs to (its first segment), or undefined when no layer holds it. */
export function layerOf(repoPath: string): Layer | undefined {
  const first = repoPath.split('/')[0];
  return LAYERS.find((layer) => layer.path === first);
}

const BEGIN = '<!-- generated:layers begin (npm run docs:layers; do not edit) -->';
const END = '<!-- generated:layers end -->';

/** The README's layout table, rendered from LAYERS. */
export function renderLayersTable(): string {
  const rows = LAYERS.map((layer) => {
    const name = layer.path.includes('.') ? `\`${layer.path}\`` : `\`${layer.path}/\``;
    const imports = layer.mayImport.length === 0 ? 'nothing of ours' : layer.mayImport.map((p) => `\`${p}\``).join(', ');
    return `| ${name} | ${layer.holds} | ${imports} |`;
  });
  return [BEGIN, '| folder | what lives there | may import |', '|---|---|---|', ...rows, END].join('\n');
}

/** The README with its generated layout region replaced by the current table. */
export function withLayersTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const stop = readme.indexOf(END);
  if (start < 0 || stop < start) throw new Error(`README.md has no ${BEGIN} … ${END} region`);
  return readme.slice(0, start) + renderLayersTable() + readme.slice(stop + END.length);
}

/** The README this module maintains. */
export const README = fileURLToPath(new URL('../README.md', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(README, withLayersTable(readFileSync(README, 'utf8')));
}
