import { MatterStackError } from '../events/errors.ts';
import type { OperatorEntry, OperatorsConfig } from '../workspace/operators-config.ts';
import { tryNormalizeOperatorKey } from '../events/operator-key.ts';
import { ExperimentOperator } from './experiment-operator.ts';
import { HumanOperator } from './human-operator.ts';
import { LocalOperator, type LocalOperatorOptions } from './local-operator.ts';
import type { Operator } from './operator.ts';
import { SimOperator } from './sim-operator.ts';
import { SlurmOperator, type SlurmOperatorOptions } from './slurm/slurm-operator.ts';

/** One registered operator. */
export interface RegisteredOperator {
  key: string;
  operator: Operator;
  /** Per-operator cap; null: only the global cap applies. */
  maxConcurrent: number | null;
  config: OperatorEntry;
}

/** Builds the operator for one configured entry; a later issue plugs Slurm in here. */
export type OperatorFactory = (key: string, entry: OperatorEntry) => Operator;

/** Options of `OperatorRegistry.fromConfig`. */
export interface RegistryOptions {
  /** Overrides by kind (tests, the Slurm operator of a later issue). */
  factories?: Partial<Record<string, OperatorFactory>>;
  local?: LocalOperatorOptions;
  /** Tunables of Slurm-backed operators (tests shorten intervals, inject a runner). */
  slurm?: SlurmOperatorOptions;
  pollIntervalMs?: number;
}

/** Key → operator instance + cap, built from an operators config. */
export class OperatorRegistry {
  private readonly entries = new Map<string, RegisteredOperator>();

  constructor(entries: Iterable<RegisteredOperator> = []) {
    for (const entry of entries) this.entries.set(entry.key, entry);
  }

  /** One operator instance per configured key (instances of the same kind share nothing). */
  static fromConfig(config: OperatorsConfig, options: RegistryOptions = {}): OperatorRegistry {
    const registry = new OperatorRegistry();
    for (const [key, entry] of Object.entries(config.operators)) {
      const factory = options.factories?.[entry.kind] ?? defaultFactory(options);
      registry.entries.set(key, { key, operator: factory(key, entry), maxConcurrent: entry.maxConcurrent, config: entry });
    }
    return registry;
  }

  /** The operator for `key` (normalised, legacy names accepted), or undefined. */
  get(key: string): RegisteredOperator | undefined {
    const canonical = tryNormalizeOperatorKey(key);
    return canonical === null ? undefined : this.entries.get(canonical);
  }

  /** Like `get`, but OPERATOR_ERROR naming the key and the configured keys when missing. */
  require(key: string): RegisteredOperator {
    const found = this.get(key);
    if (found) return found;
    throw new MatterStackError('OPERATOR_ERROR', `no operator configured for key "${key}" (configured: ${this.keys().join(', ') || 'none'})`, {
      key,
      configured: this.keys(),
    });
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Configured keys, sorted. */
  keys(): string[] {
    return [...this.entries.keys()].sort();
  }
}

function defaultFactory(options: RegistryOptions): OperatorFactory {
  return (key, entry) => {
    switch (entry.kind) {
      case 'local':
      case 'hpc':
        if (entry.backend?.type === 'slurm') return new SlurmOperator(key, entry, options.slurm);
        if (entry.backend?.dry_run) return new SimOperator();
        return new LocalOperator({ pollIntervalMs: options.pollIntervalMs, ...options.local });
      case 'human':
        return new HumanOperator({ pollIntervalMs: options.pollIntervalMs });
      case 'experiment':
        return new ExperimentOperator({ pollIntervalMs: options.pollIntervalMs });
      case 'sim':
        return new SimOperator();
    }
  };
}
