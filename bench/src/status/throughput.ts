import { type Poll } from './probes';

/** Polls in flight at once, at most: enough to keep Redis busy between round trips. */
export const IN_FLIGHT = 50;
/**
 * Redis runs a client's pipelined commands back to back, so a wave of 50 getStates 1M deep (20 ms each)
 * would block everyone else on the shared Redis for a second: waves are cut to about this much Redis time.
 */
const WAVE_BUDGET_MS = 20;
const WINDOW_MS = 100;
const ROUNDS = 10;

export interface PipelinedTarget {
  jobId: string;
  pipelined: { read: Poll; getState: Poll };
}

/** Waves of `size` concurrent polls (one pipeline each) for at least WINDOW_MS: µs per poll. */
async function window(poll: Poll, jobId: string, size: number): Promise<number> {
  let polls = 0;
  const started = performance.now();
  do {
    await Promise.all(Array.from({ length: size }, () => poll(jobId)));
    polls += size;
  } while (performance.now() - started < WINDOW_MS);
  return ((performance.now() - started) * 1000) / polls;
}

/** Polls per wave: IN_FLIGHT, or fewer when one poll is slow enough to hog Redis. */
async function waveSize(poll: Poll, jobId: string): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await poll(jobId);
    fastest = Math.min(fastest, performance.now() - started);
  }
  return Math.max(1, Math.min(IN_FLIGHT, Math.floor(WAVE_BUDGET_MS / fastest)));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/**
 * What a poll costs when many are in flight, free of the round-trip wait: microseconds per poll on an
 * auto-pipelining client. Windows of every target and method take turns for ROUNDS rounds and the median
 * window counts, so a GC pause or another user's burst on the shared Redis moves one window, not a result.
 */
export async function costPerPoll(targets: PipelinedTarget[]): Promise<{ read: number; getState: number }[]> {
  const methods = ['read', 'getState'] as const;
  const sizes = [];
  for (const t of targets) {
    sizes.push({
      read: await waveSize(t.pipelined.read, t.jobId),
      getState: await waveSize(t.pipelined.getState, t.jobId),
    });
  }
  const windows = targets.map(() => ({ read: [] as number[], getState: [] as number[] }));
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [i, target] of targets.entries()) {
      for (const method of methods) {
        const us = await window(target.pipelined[method], target.jobId, sizes[i]![method]);
        // Round 0 warms the scripts and connections up and is not counted.
        if (round > 0) windows[i]![method].push(us);
      }
    }
  }
  return windows.map((w) => ({ read: median(w.read), getState: median(w.getState) }));
}
