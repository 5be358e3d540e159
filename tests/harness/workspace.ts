import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temporary workspaces root; `cleanup()` removes it. */
export interface TempRoot {
  root: string;
  /** Creates `<root>/<slug>/campaign.mjs` (and operators.yaml if given); returns the workspace dir. */
  workspace(slug: string, campaign: string, operatorsYaml?: string): string;
  cleanup(): void;
}

/** Makes a temporary workspaces root for a test. */
export function tempRoot(prefix = 'ms-'): TempRoot {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    root,
    workspace(slug, campaign, operatorsYaml) {
      const dir = path.join(root, slug);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'campaign.mjs'), campaign);
      if (operatorsYaml !== undefined) fs.writeFileSync(path.join(dir, 'operators.yaml'), operatorsYaml);
      return dir;
    },
    cleanup() {
      // A task a test left running (runs outlive their loop by design) may still write its exit marker.
      fs.rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** A campaign.mjs with one workflow (the given tasks) and an analyze that keeps each task's status. */
export function oneWorkflowCampaign(tasks: unknown[]): string {
  return `
export function plan(state) { return state === null ? ${JSON.stringify({ tasks })} : null; }
export function analyze(state, results) {
  return Object.fromEntries(Object.entries(results).map(([id, r]) => [id, r.status]));
}
`;
}
