import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ORCHESTRATOR_NODE_FLAGS } from '../cli/process-settings.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/matterstack.js');

describe('the orchestrator process settings', () => {
  it('bin/matterstack.js starts node with ORCHESTRATOR_NODE_FLAGS (its shebang) and runs as an executable', () => {
    const shebang = fs.readFileSync(BIN, 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${ORCHESTRATOR_NODE_FLAGS.join(' ')}`);
    const run = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^matterstack \d+\.\d+\.\d+/);
  });
});
