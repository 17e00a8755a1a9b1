import { ConfigError, parseEnv } from '@castforge/core';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const intList = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'must be a comma-separated list of integers')
  .transform((s) => s.split(',').map(Number));

/** The settings of a run; `--quick` changes the defaults, any flag overrides them. */
export const ChaosOptions = z.object({
  quick: z.stringbool().default(false),
  /** Seeds the load and the fault schedule (printed, so a run can be replayed). */
  seed: int(0, 2 ** 31 - 1).optional(),
  loadSeconds: int(5, 600).optional(),
  /** Longest wait, faults off, for every job and delivery to end before the checks. */
  drainSeconds: int(5, 600).optional(),
  workers: int(1, 16).optional(),
  apis: int(1, 4).optional(),
  endpointsPerWorker: int(1, 16).optional(),
  imageMs: int(0, 10_000).default(3),
  /** Jobs to submit in all: about 28 % one by one, the rest in campaigns. */
  jobs: int(10, 1_000_000).optional(),
  campaignsPerTenant: int(1, 1000).optional(),
  killEveryMs: int(500, 600_000).optional(),
  /** WORKER_MAX_STALLED_COUNT of the workers, cycled over them: 0 fails a stalled job at once, 1 runs it again. */
  maxStalled: intList.default([0, 1]),
  fuzzRuns: int(0, 1_000_000).optional(),
  redisPort: int(1, 65535).default(6391),
  /** The apps' LOG_LEVEL (their logs go to <run dir>/logs). */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  /** Keep the run directory (logs, AOF, results) even when every invariant holds. */
  keep: z.stringbool().default(false),
});
export type ChaosOptions = z.infer<typeof ChaosOptions>;

/** The shape of a run once defaults are settled. */
export interface RunSettings {
  quick: boolean;
  seed: number;
  loadSeconds: number;
  drainSeconds: number;
  workers: number;
  apis: number;
  endpointsPerWorker: number;
  imageMs: number;
  singleJobs: number;
  campaignsPerTenant: number;
  /** Jobs per campaign, on average (each drawn within ±20 %). */
  campaignJobs: number;
  killEveryMs: number;
  maxStalled: number[];
  fuzzRuns: number;
  redisPort: number;
  logLevel: string;
  keep: boolean;
}

/**
 * `npm run chaos` (≤ 5 min, ≥ 10,000 jobs: 11,000 by default, 3,080 one by one and 2 tenants × 8 campaigns of
 * about 500) and `npm run chaos -- --quick` (≤ 60 s: 1,100 jobs, 2 × 3 campaigns of about 130).
 */
export function settle(options: ChaosOptions): RunSettings {
  const q = options.quick;
  const jobs = options.jobs ?? (q ? 1100 : 11_000);
  const campaignsPerTenant = options.campaignsPerTenant ?? (q ? 3 : 8);
  return {
    quick: q,
    seed: options.seed ?? Math.floor(Math.random() * 2 ** 31),
    loadSeconds: options.loadSeconds ?? (q ? 22 : 140),
    drainSeconds: options.drainSeconds ?? (q ? 18 : 90),
    workers: options.workers ?? (q ? 3 : 4),
    apis: options.apis ?? (q ? 1 : 2),
    endpointsPerWorker: options.endpointsPerWorker ?? 4,
    imageMs: options.imageMs,
    singleJobs: Math.round(jobs * 0.28),
    campaignsPerTenant,
    campaignJobs: Math.round((jobs * 0.72) / (2 * campaignsPerTenant)),
    killEveryMs: options.killEveryMs ?? (q ? 2500 : 4000),
    maxStalled: options.maxStalled,
    fuzzRuns: options.fuzzRuns ?? (q ? 1500 : 10_000),
    redisPort: options.redisPort,
    logLevel: options.logLevel,
    keep: options.keep,
  };
}

/** `--load-seconds=60` / `--load-seconds 60` / `--quick` → { loadSeconds: '60', quick: 'true' }. */
export function parseFlags(argv: string[]): ChaosOptions {
  const raw: Record<string, string> = {};
  const known = Object.keys(ChaosOptions.shape);
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i]!);
    if (!match) throw new ConfigError([`unexpected argument ${argv[i]} (flags look like --name=value)`]);
    const name = match[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!known.includes(name)) {
      const flags = known.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      throw new ConfigError([`unknown flag --${match[1]}; chaos takes ${flags.join(', ')}`]);
    }
    const boolean = name === 'quick' || name === 'keep';
    const value = match[2] ?? (boolean ? 'true' : argv[++i]);
    if (value === undefined) throw new ConfigError([`--${match[1]} needs a value`]);
    raw[name] = value;
  }
  return parseEnv(ChaosOptions, raw);
}
