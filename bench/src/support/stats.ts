/** Latency of a series of calls, in milliseconds. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array: p99 of 2,000 samples is the 1,980th. */
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

export function summarize(samplesMs: number[]): Summary {
  if (!samplesMs.length) throw new Error('no samples');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}

/** Runs `call` n times one after another (the way one client polls) and returns each call's duration. */
export async function timeSequential(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return samples;
}

export const ratio = (numerator: number, denominator: number) =>
  denominator > 0 ? numerator / denominator : Number.NaN;

/** Wall-clock time of a step, in seconds, for the "how long did it take" lines. */
export async function timed<T>(step: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await step();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** One thing to time: a call that throws unless it got the expected answer. */
export type Probe = () => Promise<unknown>;

/** Each recorded block starts after a few ms of unrecorded calls of its own probe (a slow block before it leaves the CPUs idle). */
const BLOCK_WARMUP_MS = 5;

/**
 * `n` sequential calls of each probe, after `warmupMs` of unrecorded calls of all of them (connections, JIT,
 * caches). The calls are split into `rounds` in which every probe takes a turn, so drift on this shared
 * machine (someone else's load on Redis, a GC pause, CPU idle states) lands on all of them alike.
 */
export async function interleaved(
  probes: Probe[],
  n: number,
  pacing: { rounds: number; warmupMs: number },
): Promise<Summary[]> {
  const until = performance.now() + pacing.warmupMs;
  while (performance.now() < until) for (const probe of probes) await probe();
  const samples = probes.map(() => [] as number[]);
  for (let round = 0; round < pacing.rounds; round++) {
    const size = Math.floor(n / pacing.rounds) + (round < n % pacing.rounds ? 1 : 0);
    for (const [i, probe] of probes.entries()) {
      const warm = performance.now() + BLOCK_WARMUP_MS;
      while (performance.now() < warm) await probe();
      samples[i]!.push(...(await timeSequential(size, probe)));
    }
  }
  return samples.map(summarize);
}

/** The median of a few rounds' figures, with the lowest and highest: `1,828 [1,442..2,081]`. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every round's figure, in round order. */
  rounds: number[];
}

export function spread(values: number[]): Spread {
  if (!values.length) throw new Error('no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, rounds: values };
}
