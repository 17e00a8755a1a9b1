import { type Redis } from 'ioredis';
import { type RedisKeys } from './keys';

const SAMPLES = 200;

/** A job's cost in "units" (steps × megapixels): inference time scales with both. */
export const costUnits = (steps: number, width: number, height: number) =>
  Math.max(0.01, (steps * width * height) / 1e6);

/** What a worker process tells the others (and the API) about itself, every few seconds. */
export interface WorkerBeat {
  slots: number;
  /** The backend it drives and the operations it runs (SPEC §12), for the capability check at submit. */
  backend?: string;
  operations?: string[];
}

/** Called by each worker process every few seconds: its GPU slots, backend and operations. */
export async function heartbeat(
  redis: Redis,
  keys: RedisKeys,
  workerId: string,
  beat: WorkerBeat,
): Promise<void> {
  await redis.hset(keys.workers, workerId, JSON.stringify({ ...beat, at: Date.now() }));
}

/** Live workers (heartbeat within `withinMs`), by id. Stale entries of workers that died are removed. */
export async function liveWorkers(
  redis: Redis,
  keys: RedisKeys,
  withinMs = 15_000,
): Promise<Map<string, WorkerBeat & { at: number }>> {
  const all = await redis.hgetall(keys.workers);
  const now = Date.now();
  const live = new Map<string, WorkerBeat & { at: number }>();
  const stale: string[] = [];
  for (const [id, value] of Object.entries(all)) {
    try {
      const w = JSON.parse(value) as WorkerBeat & { at?: number };
      if (typeof w.at === 'number' && now - w.at < withinMs) live.set(id, { ...w, at: w.at });
      else if (typeof w.at !== 'number' || now - w.at > 3600_000) stale.push(id);
    } catch {
      stale.push(id);
    }
  }
  if (stale.length) await redis.hdel(keys.workers, ...stale);
  return live;
}

export async function removeWorker(redis: Redis, keys: RedisKeys, workerId: string): Promise<void> {
  await redis.hdel(keys.workers, workerId);
}

function median(values: number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? null;
}

/**
 * Estimates from recent measured durations (not a constant): the median milliseconds per unit over the
 * last inferences, and the GPU slots of live workers, both re-read at most every `refreshMs`.
 */
export function createEstimator(
  redis: Redis,
  keys: RedisKeys,
  options: { refreshMs?: number; coldMsPerUnit?: number } = {},
) {
  const refreshMs = options.refreshMs ?? 5000;
  let msPerUnit: number | null = null;
  let slots = 1;
  let refreshedAt = 0;
  let refreshing: Promise<void> | undefined;

  const refresh = async () => {
    // The samples live in each bucket, written by the script that ends a job; all are read at once.
    const [lists, workers] = await Promise.all([
      Promise.all(keys.allBuckets().map((b) => redis.lrange(b.durations, 0, SAMPLES - 1))),
      liveWorkers(redis, keys),
    ]);
    msPerUnit = median(
      lists
        .flat()
        .map((s) => s.split(':').map(Number))
        .filter(([ms, units]) => Number.isFinite(ms) && Number.isFinite(units) && units! > 0)
        .map(([ms, units]) => ms! / units!),
    );
    let live = 0;
    for (const w of workers.values()) if (typeof w.slots === 'number') live += w.slots;
    slots = Math.max(1, live);
    refreshedAt = Date.now();
  };

  const fresh = async () => {
    if (Date.now() - refreshedAt > refreshMs) {
      refreshing ??= refresh().finally(() => (refreshing = undefined));
      await refreshing.catch(() => undefined);
    }
    return { perUnitMs: msPerUnit ?? options.coldMsPerUnit ?? 1000, slots };
  };

  return {
    /** Recent milliseconds per unit and the live GPU slots, for ETAs of many jobs (campaigns). */
    rates: fresh,

    /** Seconds until a job of `units` that has `ahead` jobs in front of it is likely done. */
    async estimateSeconds(units: number, ahead: number): Promise<number> {
      const { perUnitMs, slots: live } = await fresh();
      const jobSeconds = (perUnitMs * units) / 1000;
      // Jobs ahead are assumed to cost about as much as this one.
      return Math.max(1, Math.round(jobSeconds * (1 + ahead / live)));
    },
  };
}
export type Estimator = ReturnType<typeof createEstimator>;
export type Rates = Awaited<ReturnType<Estimator['rates']>>;

/** Seconds for `jobs` jobs of `units` each on the live GPU slots. */
export const secondsFor = (rates: Rates, units: number, jobs: number) =>
  Math.max(0, Math.round((rates.perUnitMs * units * jobs) / rates.slots / 1000));
