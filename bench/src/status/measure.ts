import { type Summary, summarize, timeSequential } from '../support/stats';
import { METHODS, type Method, type Probes } from './probes';

/**
 * On this 2-vCPU VM a loopback round trip swings between about 0.03 and 0.1 ms for seconds at a time (CPU
 * scheduling and idle states; a bare GET does the same), most often just after the activity changes, e.g.
 * when a fill ends. That alone would move a deep ÷ shallow ratio by 2×. So every job's polls start after
 * this much unrecorded polling...
 */
const WARMUP_MS = 2000;
/** ...and every recorded block after a few ms of unrecorded polls of its own kind (a slow getState block leaves the CPUs idle). */
const BLOCK_WARMUP_MS = 5;
/**
 * The polls are split into rounds in which every job and method takes a turn, so a burst of load from
 * someone else on the shared Redis, or a GC pause, lands on all of them alike.
 */
const ROUNDS = 40;

export interface Target {
  jobId: string;
  probes: Probes;
}

async function warmUp(targets: Target[]): Promise<void> {
  const until = performance.now() + WARMUP_MS;
  while (performance.now() < until) {
    for (const target of targets) for (const method of METHODS) await target.probes[method](target.jobId);
  }
}

/** `polls` sequential status polls of each target with each method: the latency summaries, per target. */
export async function measureTargets(targets: Target[], polls: number): Promise<Record<Method, Summary>[]> {
  const samples = targets.map(
    () => Object.fromEntries(METHODS.map((m) => [m, [] as number[]])) as Record<Method, number[]>,
  );
  await warmUp(targets);
  for (let round = 0; round < ROUNDS; round++) {
    const size = Math.floor(polls / ROUNDS) + (round < polls % ROUNDS ? 1 : 0);
    for (const [i, target] of targets.entries()) {
      for (const method of METHODS) {
        const poll = () => target.probes[method](target.jobId);
        const warm = performance.now() + BLOCK_WARMUP_MS;
        while (performance.now() < warm) await poll();
        samples[i]![method].push(...(await timeSequential(size, poll)));
      }
    }
  }
  return samples.map(
    (byMethod) =>
      Object.fromEntries(METHODS.map((m) => [m, summarize(byMethod[m])])) as Record<Method, Summary>,
  );
}
