import { readFileSync } from 'node:fs';
import type { JsonValue } from '../../events/json.ts';
import { BY_OPTION, defineCommand, requiredArg, stringOption, type CommandContext, type CommandSpec } from '../command.ts';
import { parseId } from '../parse-id.ts';
import { sendRunCommand } from '../send-run-command.ts';
import { UsageError } from '../usage-error.ts';

/** The decision's data: `--data JSON` or the JSON in `--data-file F` (usage errors name the option at fault). */
function decisionData(ctx: CommandContext): JsonValue | undefined {
  const inline = stringOption(ctx, 'data');
  const file = stringOption(ctx, 'data-file');
  if (inline !== undefined && file !== undefined) throw new UsageError('give --data or --data-file, not both');
  if (inline !== undefined) return parseJson(inline, '--data');
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--data-file ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseJson(text, `--data-file ${file}`);
}

function parseJson(text: string, what: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new UsageError(`${what}: not valid JSON (${(error as Error).message})`);
  }
}

/** approve / reject: a decision on a gate task waiting for a human. */
function gateDecision(name: 'approve' | 'reject', type: string, summary: string, description: string): CommandSpec {
  return defineCommand({
    name,
    summary,
    description,
    group: 'commands',
    args: [
      { name: 'run', required: true, description: 'the run id' },
      { name: 'gate-task', required: true, description: 'the gate task (listed under "Waiting for approval" by "matterstack status <run>")' },
    ],
    options: {
      comment: { type: 'string', valueName: 'TEXT', description: 'why (recorded in the log and the evidence)' },
      data: { type: 'string', valueName: 'JSON', description: "data for the campaign: analyze receives it as the gate's results[task].data" },
      'data-file': { type: 'string', valueName: 'FILE', description: 'the same data read from a JSON file' },
      by: BY_OPTION,
    },
    examples: [`${name} r1 approve_synthesis --comment "looks right"`, `${name} r1 approve_synthesis --data '{"batch": "B7", "samples": 12}'`],
    notes: [
      'Prints "accepted (seq N)"; refused (NOT_A_GATE, GATE_NOT_WAITING, GATE_ALREADY_DECIDED, GATE_DATA_INVALID, TASK_NOT_FOUND) → one error line, non-zero exit.',
      'A gate takes one decision: once an approve or a reject is accepted, any other is GATE_ALREADY_DECIDED (naming the\nfirst), even before a host has acted on it; a rerun of the gate makes a new attempt, which takes a new one.',
      "The comment and data are kept in the log and shown by replay, attempts, explain and the evidence; analyze gets\nresults[task].data (the data) and results[task].decision ({verb, by, principal, comment}: by is the --by name,\nprincipal who was authenticated, the NATS user or the OS account).",
      ...(name === 'approve'
        ? ['A gate with an inputSchema (JSON Schema) takes only an approve whose data matches it: otherwise GATE_DATA_INVALID\nnames the field (e.g. data.batch), the refusal is logged, and nothing else changes.']
        : []),
    ],
    run: (ctx) => {
      const comment = stringOption(ctx, 'comment');
      const data = decisionData(ctx);
      return sendRunCommand(ctx, requiredArg(ctx, 'run'), {
        type,
        taskId: parseId('task id', requiredArg(ctx, 'gate-task')),
        ...(comment !== undefined ? { comment } : {}),
        ...(data !== undefined ? { data } : {}),
      });
    },
  });
}

/** `approve <run> <gate-task>`. */
export const approveCommand = gateDecision(
  'approve',
  'CMD.APPROVE',
  'approve a gate waiting for a human',
  'The gate task COMPLETES and the tasks that depend on it may run.',
);

/** `reject <run> <gate-task>`. */
export const rejectCommand = gateDecision(
  'reject',
  'CMD.REJECT',
  'reject a gate waiting for a human',
  'The gate task FAILS with the comment as its reason; tasks that depend on it are SKIPPED and the\nrun FAILS (unless the gate allows failure).',
);
