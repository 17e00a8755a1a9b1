import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Connection, type Logger } from '@castforge/core';
import { type Redis } from 'ioredis';
import { steadyRate } from '../gpu/steady-rate';
import {
  type CounterDelta,
  type MonitorCounts,
  counterDelta,
  startMonitor,
  readCounters,
} from '../support/redis-stats';
import { deleteUnder, newPrefix } from '../support/services';
import { createBareSide } from './bare';
import { createOursSide } from './ours';

/** `ours`: the pool with the zero-time backend; `ours-simulated`: with the real simulated renderer. */
export type WorkerSideName = 'ours' | 'ours-simulated' | 'bare';
export const SIDES: WorkerSideName[] = ['ours', 'bare', 'ours-simulated'];

export interface WorkerBenchSettings {
  jobs: number;
  endpoints: number;
  size: number;
  rounds: number;
  /** The folder under which each side's result folder is made (see support/result-root.ts). */
  resultRoot: string;
  /** Jobs of the unrecorded warm-up drain of every side before the first round. */
  warmupJobs: number;
  monitorJobs: number;
}

export interface WorkerBenchDeps {
  redisUrl: string;
  /** Whether the bench owns the Redis (then CONFIG RESETSTAT is allowed). */
  privateRedis: boolean;
  admin: Redis;
  mongo: Connection;
  logger: Logger;
  image: Buffer;
}

/** One side's drain of `jobs` queued jobs. */
export interface SideRun {
  side: WorkerSideName;
  round: number;
  jobs: number;
  /** Completions per second from the endpoints-th completion to the last (the steady state). */
  jobsPerSecond: number;
  /** jobs ÷ (last completion − start of the drain). */
  wallJobsPerSecond: number;
  drainSeconds: number;
  redis: CounterDelta;
  /** Node CPU of the bench process (where the worker runs) during the drain, ms per job. */
  nodeCpuMsPerJob: number;
  loadavg: number[];
}

interface Side {
  submit(n: number): Promise<string[]>;
  start(ended: (jobId: string) => void): Promise<void>;
  completed(ids: string[]): Promise<number>;
  close(): Promise<void>;
}

export function createWorkerBench(deps: WorkerBenchDeps, settings: WorkerBenchSettings) {
  // What the current side holds (a pool or worker, keys, a result folder), for an interrupted bench to free.
  const holding = new Set<() => Promise<void>>();

  async function openSide(name: WorkerSideName, prefix: string, dataDir: string): Promise<Side> {
    const common = { redisUrl: deps.redisUrl, prefix, dataDir, size: settings.size, image: deps.image };
    if (name === 'bare') return createBareSide({ ...common, concurrency: settings.endpoints });
    return createOursSide({
      ...common,
      mongo: deps.mongo,
      logger: deps.logger,
      endpoints: settings.endpoints,
      backend: name === 'ours' ? 'zero' : 'simulated',
    });
  }

  /** Opens a side under a fresh prefix, queues `n` jobs, runs `measure` around the drain, cleans up. */
  async function withSide<T>(
    name: WorkerSideName,
    n: number,
    measure: (drain: (onEnded?: (count: number) => void) => Promise<number[]>) => Promise<T>,
  ): Promise<T> {
    const prefix = newPrefix(name === 'bare' ? 'wbare' : 'worker');
    const dataDir = path.join(settings.resultRoot, `castforge-${prefix}`);
    await mkdir(dataDir, { recursive: true });
    const side = await openSide(name, prefix, dataDir);
    let released: Promise<void> | undefined;
    const release = () =>
      (released ??= (async () => {
        await side.close();
        await deleteUnder(deps.admin, prefix);
        await rm(dataDir, { recursive: true, force: true });
      })());
    holding.add(release);
    try {
      const ids = await side.submit(n);
      const drain = async (onEnded?: (count: number) => void) => {
        const completions: number[] = [];
        let allEnded = () => {};
        const ended = new Promise<void>((resolve) => (allEnded = resolve));
        const deadlineMs = 120_000 + n * 20;
        const timeout = new Promise<'timeout'>((resolve) =>
          setTimeout(() => resolve('timeout'), deadlineMs).unref(),
        );
        const started = performance.now();
        await side.start(() => {
          completions.push(performance.now() - started);
          onEnded?.(completions.length);
          if (completions.length === n) allEnded();
        });
        if ((await Promise.race([ended, timeout])) === 'timeout') {
          throw new Error(`${name}: ${completions.length} of ${n} jobs ended within ${deadlineMs} ms`);
        }
        return completions;
      };
      const result = await measure(drain);
      const completed = await side.completed(ids);
      if (completed !== n) throw new Error(`${name}: only ${completed} of ${n} jobs completed`);
      return result;
    } finally {
      await release();
      holding.delete(release);
    }
  }

  /** A timed drain of `jobs` jobs (a round's unless given), with Redis' counters and node CPU around it. */
  const timedRun = (name: WorkerSideName, round: number, jobs = settings.jobs) =>
    withSide(name, jobs, async (drain): Promise<SideRun> => {
      // Let the submit's last replies and lazy frees settle before counting.
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (deps.privateRedis) await deps.admin.config('RESETSTAT');
      const before = await readCounters(deps.admin);
      const cpuBefore = process.cpuUsage();
      const completions = await drain();
      const cpu = process.cpuUsage(cpuBefore);
      const after = await readCounters(deps.admin);
      const last = Math.max(...completions);
      return {
        side: name,
        round,
        jobs,
        jobsPerSecond: steadyRate(completions, settings.endpoints),
        wallJobsPerSecond: (jobs * 1000) / last,
        drainSeconds: last / 1000,
        redis: counterDelta(before, after, deps.privateRedis),
        nodeCpuMsPerJob: (cpu.user + cpu.system) / 1000 / jobs,
        loadavg: os.loadavg(),
      };
    });

  /**
   * A smaller drain with MONITOR attached: who sent which command, and what ran inside scripts. Only the
   * commands between the 10 % and the 90 % completion count, so start-up and the last jobs' wind-down do
   * not weigh on a per-job figure; they are divided by the jobs that ended in that window.
   */
  const monitoredRun = (name: WorkerSideName) =>
    withSide(name, settings.monitorJobs, async (drain): Promise<MonitorCounts & { jobs: number }> => {
      const from = Math.floor(settings.monitorJobs * 0.1);
      const to = Math.ceil(settings.monitorJobs * 0.9);
      const monitor = await startMonitor(deps.redisUrl);
      await drain((count) => {
        if (count === from) monitor.count(true);
        if (count === to) monitor.count(false);
      });
      return { ...(await monitor.stop()), jobs: to - from };
    });

  const releaseAll = () => Promise.all([...holding].map((release) => release()));
  return { timedRun, monitoredRun, releaseAll };
}
