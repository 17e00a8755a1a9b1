import { type Redis } from 'ioredis';
import { type RedisKeys } from './keys';

const SAMPLES = 200;

/** A job's cost in "units" (steps × megapixels): inference time scales with both. */
export const costUnits = (steps: number, width: number, height: number) =>
  Math.max(0.01, (steps * width * height) / 1e6);

/** Called by the worker after each inference: keeps the last 200 measurements. */
export async function recordInference(
  redis: Redis,
  keys: RedisKeys,
  inferenceMs: number,
  units: number,
): Promise<void> {
  await redis
    .multi()
    .lpush(keys.durations, `${Math.round(inferenceMs)}:${units.toFixed(4)}`)
    .ltrim(keys.durations, 0, SAMPLES - 1)
    .exec();
}

/** Called by each worker process every few seconds: how many GPU slots it drives. */
export async function heartbeat(
  redis: Redis,
  keys: RedisKeys,
  workerId: string,
  slots: number,
): Promise<void> {
  await redis.hset(keys.workers, workerId, JSON.stringify({ slots, at: Date.now() }));
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
    const [samples, workers] = await Promise.all([
      redis.lrange(keys.durations, 0, SAMPLES - 1),
      redis.hgetall(keys.workers),
    ]);
    msPerUnit = median(
      samples
        .map((s) => s.split(':').map(Number))
        .filter(([ms, units]) => Number.isFinite(ms) && Number.isFinite(units) && units! > 0)
        .map(([ms, units]) => ms! / units!),
    );
    const now = Date.now();
    let live = 0;
    for (const value of Object.values(workers)) {
      try {
        const w = JSON.parse(value) as { slots?: number; at?: number };
        if (typeof w.slots === 'number' && typeof w.at === 'number' && now - w.at < 15_000) live += w.slots;
      } catch {
        // a malformed heartbeat is ignored; the next one replaces it
      }
    }
    slots = Math.max(1, live);
    refreshedAt = now;
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
