import { parseArgs } from 'node:util';
import { z } from 'zod';
import { findWorkspacesRoot } from '../../workspace/workspace.ts';
import { configureLogging, invalidLogLevelMessage, LOG_LEVELS } from '../../events/logger.ts';
import { redactPasswords } from '../../events/redact-url.ts';
import { escapeControl } from '../../views/escape-text.ts';
import { runWorker, type WorkerHandle } from '../../distributed/worker.ts';

const ArgsSchema = z.object({
  nats: z.string().min(1, 'missing --nats URL (or MATTERSTACK_NATS_URL)'),
  user: z.string().min(1),
  pass: z.string().optional(),
  root: z.string().optional(),
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  leaseTtlMs: z.coerce.number().int().min(500).optional(),
  pollMs: z.coerce.number().int().min(10).max(86_400_000).optional(),
  logLevel: z.enum(LOG_LEVELS, { error: (issue) => invalidLogLevelMessage('--log-level', String(issue.input)) }),
});

/**
 * `matterstack worker`: runs a worker until SIGINT/SIGTERM. Flags: --nats URL, --user (default
 * orchestrator), --root DIR, --id, --lease-ttl-ms, --poll-ms, --log-level (default
 * MATTERSTACK_LOG_LEVEL, else info; JSON lines on stderr, readable ones on a TTY). The password comes from
 * MATTERSTACK_NATS_PASS or MS_ORCHESTRATOR_PASSWORD, never from the command line. Prints
 * `ready <workerId>` on stdout once serving. Resolves when the worker has stopped.
 */
export async function main(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nats: { type: 'string' },
      user: { type: 'string' },
      root: { type: 'string' },
      id: { type: 'string' },
      'lease-ttl-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const args = ArgsSchema.parse({
    nats: values.nats ?? env.MATTERSTACK_NATS_URL ?? '',
    user: values.user ?? env.MATTERSTACK_NATS_USER ?? 'orchestrator',
    pass: env.MATTERSTACK_NATS_PASS ?? env.MS_ORCHESTRATOR_PASSWORD,
    root: values.root,
    id: values.id,
    leaseTtlMs: values['lease-ttl-ms'],
    pollMs: values['poll-ms'],
    logLevel: values['log-level'] ?? (env.MATTERSTACK_LOG_LEVEL || 'info'),
  });
  configureLogging({ level: args.logLevel });
  const root = findWorkspacesRoot(args.root !== undefined ? { root: args.root } : {});
  const worker: WorkerHandle = await runWorker({
    natsUrl: args.nats,
    user: args.user,
    ...(args.pass !== undefined ? { pass: args.pass } : {}),
    root,
    ...(args.id !== undefined ? { workerId: args.id } : {}),
    ...(args.leaseTtlMs !== undefined ? { leaseTtlMs: args.leaseTtlMs } : {}),
    ...(args.pollMs !== undefined ? { operators: { pollIntervalMs: args.pollMs } } : {}),
  });
  process.stdout.write(`ready ${worker.workerId}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void worker.stop().finally(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

// Entry point when run directly: `npx tsx actors/nats/worker-main.ts --nats URL --root DIR`.
if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`matterstack worker: ${escapeControl(redactPasswords(error instanceof Error ? error.message : String(error)))}\n`);
    process.exit(1);
  });
}
