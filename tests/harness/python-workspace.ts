import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The interpreter `python3` stands for (a pyenv shim costs seconds per start: tests call the real one). */
export function realPython(): string {
  const found = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`python3 is needed by these tests: ${found.stderr || found.error?.message}`);
  return found.stdout.trim();
}

/** Writes `<root>/<slug>/` with the given files (`campaign.py`, `operators.yaml`...); returns the folder. */
export function writeWorkspace(root: string, slug: string, files: Record<string, string>): string {
  const dir = path.join(root, slug);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/**
 * A campaign.py using the shipped helper: one workflow (`firstTasks`), then `analyze` as given
 * (Python statements, indented by the caller's lines) and `plan` returning `later` (a Python
 * expression of `state`) after the first workflow.
 */
export function pythonCampaign(options: { firstTasks: unknown[]; analyze: string; later?: string; preamble?: string }): string {
  return `import json, os, sys, time
from matterstack_campaign import run
${options.preamble ?? ''}

def plan(state):
    if state is None:
        return json.loads(${JSON.stringify(JSON.stringify({ tasks: options.firstTasks }))})
    return ${options.later ?? 'None'}

def analyze(state, results):
${options.analyze
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}

if __name__ == "__main__":
    run(plan=plan, analyze=analyze)
`;
}
