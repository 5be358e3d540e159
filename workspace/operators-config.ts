import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { MatterStackError } from '../events/errors.ts';
import { JsonValueSchema } from '../events/json.ts';
import { OPERATOR_KEY_PATTERN, tryNormalizeOperatorKey } from '../events/operator-key.ts';

/** Operator kinds operators.yaml may configure. `sim` is the explicit dry run (SPEC §3). */
export const OPERATOR_KINDS = ['local', 'hpc', 'human', 'experiment', 'sim'] as const;
export type OperatorKind = (typeof OPERATOR_KINDS)[number];
/** Kinds that run a command and therefore take a `backend`. */
export const COMPUTE_KINDS: readonly OperatorKind[] = ['local', 'hpc'];

/** Global cap when operators.yaml does not set one (SPEC §3). */
export const DEFAULT_MAX_CONCURRENT_GLOBAL = 10;
/** Keys that exist even when operators.yaml does not mention them. */
export const BUILTIN_OPERATOR_KEYS = ['local.default', 'human.default', 'experiment.default'] as const;

// A timer beyond 2^31 ms (24.8 days) fires at once: a poll that long would spin, and a day is already far past any useful interval.
const pollIntervalSeconds = z.number().positive().max(86_400, 'must be at most 86400 (one day)');

const LocalBackendSchema = z.strictObject({
  type: z.literal('local'),
  /** Run the task nowhere: the operator becomes a `sim` dry run (explicit, never silent). */
  dry_run: z.boolean().default(false),
});

/** The Slurm backend of `hpc` (operators/slurm/): `ssh` runs the commands on a login node. */
const SlurmBackendSchema = z.strictObject({
  type: z.literal('slurm'),
  workspace_root: z.string().min(1),
  ssh: z
    .strictObject({
      host: z.string().min(1),
      user: z.string().min(1).optional(),
      port: z.number().int().min(1).max(65535).default(22),
      key_path: z.string().min(1).optional(),
      known_hosts: z.string().min(1).optional(),
      accept_unknown_host_keys: z.boolean().default(false),
    })
    .optional(),
  /** `#SBATCH --partition/--account/--qos` for every job (a task never sets these). */
  partition: z.string().min(1).optional(),
  account: z.string().min(1).optional(),
  qos: z.string().min(1).optional(),
  /** Free-form `#SBATCH --key=value` defaults (task resources take precedence). */
  slurm: z.record(z.string(), JsonValueSchema).default({}),
  /** Extra raw sbatch options, one per entry (`--constraint=haswell`). */
  sbatch_options: z.array(z.string().min(1)).default([]),
  modules: z.array(z.string()).default([]),
  /** One squeue for all active jobs per interval (default 30 s). */
  poll_interval_seconds: pollIntervalSeconds.optional(),
  /** A job Slurm no longer knows and that left no exit code is FAILED "lost" after this (default max(3 intervals, 120 s)). */
  lost_grace_seconds: z.number().positive().optional(),
  /** Give up on an unreachable cluster after this long (default: retry forever; the attempt stays active). */
  unreachable_deadline_seconds: z.number().positive().optional(),
});

export const BackendSchema = z.discriminatedUnion('type', [LocalBackendSchema, SlurmBackendSchema]);
export type BackendConfig = z.infer<typeof BackendSchema>;

const maxConcurrent = z
  .number({ error: 'must be a positive integer or null (unlimited)' })
  .int('must be a positive integer or null (unlimited)')
  .positive('must be a positive integer or null (unlimited)')
  .nullable();

const OperatorEntrySchema = z.strictObject({
  kind: z.enum(OPERATOR_KINDS),
  backend: BackendSchema.optional(),
  max_concurrent: maxConcurrent.optional(),
  /** How often file-based operators look for their files (default 1 s). */
  poll_interval_seconds: pollIntervalSeconds.optional(),
  description: z.string().optional(),
});

/** How the workspace's campaign runs (README "Campaigns in Python and other languages"). */
const CampaignSectionSchema = z.strictObject({
  /** A command run once per plan/analyze call, in the workspace folder: program and arguments, no shell. */
  command: z.array(z.string().min(1, 'must not be empty'), { error: 'must be a list: the program and its arguments (no shell), e.g. [julia, campaign.jl]' }).min(1, 'must name a program').optional(),
  /** Limit of one plan/analyze call (MATTERSTACK_CAMPAIGN_TIMEOUT_MS wins over it). */
  timeout_seconds: z.number().positive('must be a positive number of seconds').max(2_000_000, 'must be at most 2000000 (about 23 days)').optional(),
});

const FileSchema = z.strictObject({
  campaign: CampaignSectionSchema.optional(),
  defaults: z
    .strictObject({
      max_concurrent_global: maxConcurrent.optional(),
      default_operator: z.string().optional(),
      max_results_bytes: z.number().int('must be a positive integer').positive('must be a positive integer').optional(),
    })
    .optional(),
  // A file may only tune `defaults`: the built-in operators then take them.
  operators: z.record(z.string(), OperatorEntrySchema).default({}),
});

/** One configured operator, as the registry and the operators see it. */
export interface OperatorEntry {
  kind: OperatorKind;
  /** Compute kinds: `{type: local}` unless configured; null for other kinds. */
  backend: BackendConfig | null;
  /** null: no per-operator cap (the global cap still applies). */
  maxConcurrent: number | null;
  pollIntervalSeconds?: number;
  description?: string;
  /** Cap on a task's results.json (`defaults.max_results_bytes`); unset: DEFAULT_MAX_RESULTS_BYTES. */
  maxResultsBytes?: number;
}

/** A validated operators.yaml (or the built-in defaults). JSON-serialisable for snapshots. */
export interface OperatorsConfig {
  /** Absolute path of the file read, or null for built-in defaults. */
  source: string | null;
  maxConcurrentGlobal: number | null;
  /** The global cap when the file sets one (`defaults.max_concurrent_global`): every run of the log then shares it; absent for the built-in default, which stays per run. */
  sharedGlobalCap?: number;
  /** The workspace's default execution operator (routing's last resort). */
  defaultOperator: string;
  operators: Record<string, OperatorEntry>;
  /** The `campaign` section, when the file has one. */
  campaign?: CampaignSection;
}

/** The `campaign` section of operators.yaml: a command to run the campaign with, and/or its call timeout. */
export interface CampaignSection {
  command?: [string, ...string[]];
  timeoutMs?: number;
}

function builtinEntry(key: string): OperatorEntry {
  const kind = key.slice(0, key.indexOf('.')) as OperatorKind;
  return { kind, backend: COMPUTE_KINDS.includes(kind) ? { type: 'local', dry_run: false } : null, maxConcurrent: null };
}

/** The configuration used when a workspace has no operators.yaml. */
export function defaultOperatorsConfig(): OperatorsConfig {
  const operators: Record<string, OperatorEntry> = {};
  for (const key of BUILTIN_OPERATOR_KEYS) operators[key] = builtinEntry(key);
  return { source: null, maxConcurrentGlobal: DEFAULT_MAX_CONCURRENT_GLOBAL, defaultOperator: 'local.default', operators };
}

type PathSegment = string | number;

/** 1-based line of the node at `segments` (the deepest one that exists), via the YAML document. */
function lineOf(doc: Document, counter: LineCounter, segments: readonly PathSegment[], keyOnly = false): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as { range?: [number, number] } | null)?.range?.[0];
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      const keyRange = (pair.key as { range?: [number, number] } | null)?.range;
      const valueRange = (pair.value as { range?: [number, number] } | null)?.range;
      offset = (last && keyOnly) || !valueRange ? keyRange?.[0] ?? offset : valueRange[0];
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as { range?: [number, number] } | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function describe(segments: readonly PathSegment[]): { key?: string; field: string } {
  if (segments[0] === 'operators' && segments.length >= 2) {
    return { key: String(segments[1]), field: segments.slice(2).join('.') || '(entry)' };
  }
  if (segments[0] === 'defaults') return { key: 'defaults', field: segments.slice(1).join('.') || '(section)' };
  if (segments[0] === 'campaign') return { key: 'campaign', field: segments.slice(1).join('.') || '(section)' };
  return { field: segments.join('.') || '(top level)' };
}

function configError(file: string, line: number | undefined, segments: readonly PathSegment[], message: string): MatterStackError {
  const { key, field } = describe(segments);
  const where = `${file}${line === undefined ? '' : `:${line}`}`;
  const subject = key === undefined ? `field ${field}` : key === 'defaults' || key === 'campaign' ? `${key}, field ${field}` : `operator ${key}, field ${field}`;
  return new MatterStackError('INVALID_CONFIG', `${where}: ${subject}: ${message}`, { file, line, key, field, path: segments.join('.') });
}

/**
 * Parses and validates operators.yaml text. `file` names the file in errors; every error is an
 * INVALID_CONFIG MatterStackError whose message and details name the file, line, key and field.
 */
export function parseOperatorsConfig(text: string, file: string): OperatorsConfig {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = counter.linePos(yamlError.pos[0]).line;
    throw new MatterStackError('INVALID_CONFIG', `${file}:${line}: invalid YAML: ${yamlError.message.split('\n')[0]}`, {
      file,
      line,
      field: '(yaml)',
    });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Unresolved aliases and alias bombs surface here, not in doc.errors.
    throw new MatterStackError('INVALID_CONFIG', `${file}: invalid YAML: ${(error as Error).message}`, { file, field: '(yaml)' }, { cause: error });
  }
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(file, 1, [], 'the top level must be a mapping with "operators", "defaults" and/or "campaign" sections');
  }
  const parsed = FileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const segments = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (issue.code === 'unrecognized_keys') {
      const unknown = issue.keys[0] ?? '';
      throw configError(file, lineOf(doc, counter, [...segments, unknown], true), [...segments, unknown], `unknown field "${unknown}"`);
    }
    throw configError(file, lineOf(doc, counter, segments), segments, issue.message);
  }

  const config = defaultOperatorsConfig();
  config.source = path.resolve(file);
  for (const [rawKey, entry] of Object.entries(parsed.data.operators)) {
    const at = (field: PathSegment[], keyOnly = false): number | undefined => lineOf(doc, counter, ['operators', rawKey, ...field], keyOnly);
    if (!OPERATOR_KEY_PATTERN.test(rawKey) || rawKey.includes('..')) {
      const suggestion = tryNormalizeOperatorKey(rawKey);
      throw configError(
        file,
        at([], true),
        ['operators', rawKey],
        `operator key must be canonical kind.name (lower-case, kind [a-z][a-z0-9_]*, name [a-z0-9][a-z0-9_.-]*)${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
      );
    }
    const keyKind = rawKey.slice(0, rawKey.indexOf('.'));
    if (keyKind !== entry.kind) {
      throw configError(file, at(['kind']), ['operators', rawKey, 'kind'], `key kind "${keyKind}" does not match kind "${entry.kind}"`);
    }
    const compute = COMPUTE_KINDS.includes(entry.kind);
    if (!compute && entry.backend !== undefined) {
      throw configError(file, at(['backend'], true), ['operators', rawKey, 'backend'], `kind "${entry.kind}" takes no backend (only ${COMPUTE_KINDS.join(', ')} do)`);
    }
    const result: OperatorEntry = {
      kind: entry.kind,
      backend: compute ? (entry.backend ?? { type: 'local', dry_run: false }) : null,
      maxConcurrent: entry.max_concurrent ?? null,
    };
    if (entry.poll_interval_seconds !== undefined) result.pollIntervalSeconds = entry.poll_interval_seconds;
    if (entry.description !== undefined) result.description = entry.description;
    config.operators[rawKey] = result;
  }

  const defaults = parsed.data.defaults;
  if (defaults?.max_concurrent_global !== undefined) config.maxConcurrentGlobal = defaults.max_concurrent_global;
  if (typeof defaults?.max_concurrent_global === 'number') config.sharedGlobalCap = defaults.max_concurrent_global;
  if (defaults?.default_operator !== undefined) {
    const key = tryNormalizeOperatorKey(defaults.default_operator);
    const segments = ['defaults', 'default_operator'];
    if (key === null) throw configError(file, lineOf(doc, counter, segments), segments, `"${defaults.default_operator}" is not a valid operator key`);
    if (!(key in config.operators)) {
      throw configError(file, lineOf(doc, counter, segments), segments, `"${key}" is not configured (configured: ${Object.keys(config.operators).join(', ')})`);
    }
    config.defaultOperator = key;
  }
  const campaign = parsed.data.campaign;
  if (campaign !== undefined) {
    config.campaign = {
      ...(campaign.command !== undefined ? { command: campaign.command as [string, ...string[]] } : {}),
      ...(campaign.timeout_seconds !== undefined ? { timeoutMs: Math.ceil(campaign.timeout_seconds * 1000) } : {}),
    };
  }
  const maxResultsBytes = defaults?.max_results_bytes;
  if (maxResultsBytes !== undefined) for (const entry of Object.values(config.operators)) entry.maxResultsBytes = maxResultsBytes;
  return config;
}

/** Where `file` links to, when it is a symbolic link (its target missing); undefined when there is no file at all. */
function danglingLinkTarget(file: string): string | undefined {
  try {
    return lstatSync(file).isSymbolicLink() ? readlinkSync(file) : undefined;
  } catch {
    // No file at all (ENOENT) is the documented answer undefined: the caller reports the config as absent.
    return undefined;
  }
}

/**
 * Loads `<workspaceDir>/operators.yaml` (or the file `file` points to). A missing file gives the
 * defaults (`local.default`, `human.default`, `experiment.default`); anything invalid throws INVALID_CONFIG.
 */
export function loadOperatorsConfig(options: { workspaceDir?: string; file?: string }): OperatorsConfig {
  const file = options.file ?? (options.workspaceDir === undefined ? undefined : path.join(options.workspaceDir, 'operators.yaml'));
  if (file === undefined) return defaultOperatorsConfig();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // An explicitly named file must exist; the workspace's own file is optional, but a link to nothing is a mistake, not "no config".
    if (code === 'ENOENT' && options.file === undefined) {
      const link = danglingLinkTarget(file);
      if (link === undefined) return defaultOperatorsConfig();
      throw new MatterStackError('INVALID_CONFIG', `${file}: a symbolic link to ${link}, which does not exist`, { file }, { cause: error });
    }
    throw new MatterStackError('INVALID_CONFIG', `${file}: cannot read operators config (${code ?? String(error)})`, { file }, { cause: error });
  }
  return parseOperatorsConfig(text, file);
}
