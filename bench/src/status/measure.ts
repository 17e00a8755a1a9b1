import { type Summary, interleaved } from '../support/stats';
import { METHODS, type Method, type Probes } from './probes';

/**
 * On this 2-vCPU VM a loopback round trip swings between about 0.03 and 0.1 ms for seconds at a time (CPU
 * scheduling and idle states; a bare GET does the same), most often just after the activity changes, e.g.
 * when a fill ends. That alone would move a deep ÷ shallow ratio by 2×. So every job's polls start after
 * this much unrecorded polling.
 */
const WARMUP_MS = 2000;
/**
 * The polls are split into rounds in which every job and method takes a turn, so a burst of load from
 * someone else on the shared Redis, or a GC pause, lands on all of them alike.
 */
const ROUNDS = 40;

export interface Target {
  jobId: string;
  probes: Probes;
}

/** `polls` sequential status polls of each target with each method: the latency summaries, per target. */
export async function measureTargets(targets: Target[], polls: number): Promise<Record<Method, Summary>[]> {
  const probes = targets.flatMap((target) =>
    METHODS.map((method) => () => target.probes[method](target.jobId)),
  );
  const summaries = await interleaved(probes, polls, { rounds: ROUNDS, warmupMs: WARMUP_MS });
  return targets.map(
    (_, i) =>
      Object.fromEntries(METHODS.map((method, m) => [method, summaries[i * METHODS.length + m]!])) as Record<
        Method,
        Summary
      >,
  );
}
