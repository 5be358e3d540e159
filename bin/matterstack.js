#!/usr/bin/env -S node --max-semi-space-size=4
// Runs the TypeScript CLI through tsx so the package needs no build step. Both hooks: a campaign.ts
// outside an ESM package is loaded as CommonJS, which only the CommonJS hook can compile.
// The shebang's node flags are cli/process-settings.ts's ORCHESTRATOR_NODE_FLAGS (a test keeps them equal).
import { register as registerCommonJs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCommonJs();
register();
const { applyOrchestratorV8Flags } = await import('../cli/process-settings.ts');
applyOrchestratorV8Flags();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
