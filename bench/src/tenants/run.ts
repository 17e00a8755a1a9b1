import { mkdir, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Connection, type Logger } from '@castforge/core';
import { type Redis } from 'ioredis';
import { freePort } from '../support/private-redis';
import { step } from '../support/report';
import { deleteUnder, newPrefix } from '../support/services';
import { type JobClient, type JobTimes, createJobClient, workerProcess } from './ours';
import {
  type LogSummary,
  type WorkerProcess,
  connectionsTo,
  rssOf,
  spawnWorker,
  summarizeLog,
} from './worker-process';

/** 1 tenant × N jobs, or N tenants × 1 job. */
export type Shape = '1×N' | 'N×1';
export const SHAPES: Shape[] = ['1×N', 'N×1'];

export interface TenantsSettings {
  endpoints: number;
  imageMs: number;
  /** The folder under which each run's result folder is made (see support/result-root.ts). */
  resultRoot: string;
  /** Jobs of a warm-up tenant run before the idle snapshot. */
  warmupJobs: number;
  /** Longest a drain may take before the run is reported as not drained. */
  drainTimeoutSeconds: number;
}

export interface TenantsDeps {
  redisUrl: string;
  redisPort: number;
  admin: Redis;
  mongo: Connection;
  mongoUri: string;
  logger: Logger;
}

/** The worker process at rest: after a full GC, RSS as the median of 5 samples 200 ms apart. */
export interface Snapshot {
  rss: number;
  heapUsed: number;
  /** TCP connections of the worker process to Redis (/proc). */
  connections: number;
  /** Redis' count of clients (CLIENT LIST) less the bench's own: a cross-check of `connections`. */
  redisClients: number;
}

export interface ShapeRun {
  n: number;
  shape: Shape;
  /** After the warm-up, before any of the N tenants existed; and once all their jobs had ended. */
  idle: Snapshot;
  after: Snapshot;
  /** Highest RSS and connection count sampled while the backlog drained. */
  peakRss: number;
  peakConnections: number;
  /** (after − idle) RSS ÷ N: per idle tenant for N×1, per job ended for 1×N. */
  rssGrowthPerUnit: number;
  submitSeconds: number;
  drained: boolean;
  /** From SIGCONT (the backlog is all queued) to the last backlog job's finished_at. */
  drainSeconds: number;
  fresh: {
    /** queued_at → started_at of a new tenant's first job, submitted while the backlog drained. */
    waitMs: number;
    /** Backlog jobs not yet ended when it was submitted. */
    backlogLeftAtSubmit: number;
    /** Backlog jobs that started after it did (it did not wait behind them). */
    backlogStartedAfterIt: number;
  };
  /** The worker's warnings and errors during the run. */
  workerLog: LogSummary & { file: string };
  loadavg: number[];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function clientCount(admin: Redis): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').filter(Boolean).length;
}

/** Runs `task` on every item, `parallel` at a time. */
async function eachLimited<T, R>(items: T[], parallel: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return results;
}

async function waitFor(check: () => Promise<boolean>, deadline: number, everyMs: number): Promise<boolean> {
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

export function createTenantsBench(deps: TenantsDeps, settings: TenantsSettings) {
  // What the current run holds (a worker process, keys, a result folder), for an interrupted bench to free.
  const holding = new Set<() => Promise<void>>();

  async function snapshot(worker: WorkerProcess, benchClients: number): Promise<Snapshot> {
    const memory = await worker.collect();
    await sleep(300);
    const rss: number[] = [];
    for (let i = 0; i < 5; i++) {
      rss.push(await rssOf(worker.pid));
      await sleep(200);
    }
    return {
      rss: median(rss),
      heapUsed: memory.heapUsed,
      connections: await connectionsTo(worker.pid, deps.redisPort),
      redisClients: (await clientCount(deps.admin)) - benchClients,
    };
  }

  /** RSS and connections sampled every 500 ms until stopped; returns the highest of each. */
  function sampler(pid: number) {
    let peakRss = 0;
    let peakConnections = 0;
    let busy = false;
    const sample = () => {
      if (busy) return;
      busy = true;
      void Promise.all([rssOf(pid), connectionsTo(pid, deps.redisPort)])
        .then(([rss, connections]) => {
          peakRss = Math.max(peakRss, rss);
          peakConnections = Math.max(peakConnections, connections);
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    };
    sample();
    const timer = setInterval(sample, 500);
    return () => {
      clearInterval(timer);
      return { peakRss, peakConnections };
    };
  }

  async function readTimes(jobs: JobClient, submitted: { tenant: string; id: string }[]) {
    return eachLimited(submitted, 32, ({ tenant, id }) => jobs.read(tenant, id));
  }

  async function runShape(n: number, shape: Shape): Promise<ShapeRun> {
    const prefix = newPrefix('tenants');
    const dataDir = path.join(settings.resultRoot, `castforge-${prefix}`);
    await mkdir(dataDir, { recursive: true });
    const jobs = await createJobClient({ ...deps, prefix });
    const metricsPort = await freePort();
    const { entry, env } = workerProcess({
      redisUrl: deps.redisUrl,
      prefix,
      mongoUri: deps.mongoUri,
      dataDir,
      endpoints: settings.endpoints,
      imageMs: settings.imageMs,
      metricsPort,
      workerId: `bench-${prefix}`,
    });
    const benchClients = await clientCount(deps.admin);
    const logFile = path.join(tmpdir(), `castforge-${prefix}-worker.log`);
    const worker = await spawnWorker(entry, env, `http://127.0.0.1:${metricsPort}/readyz`, logFile);
    let released: Promise<void> | undefined;
    const release = () =>
      (released ??= (async () => {
        await worker.stop();
        await jobs.close();
        await deleteUnder(deps.admin, prefix);
        await rm(dataDir, { recursive: true, force: true });
      })());
    holding.add(release);
    try {
      // Warm-up: a tenant of its own runs some jobs first, so code paths, sharp and the JIT are warm and
      // the idle figure is a worker that has worked, just not for any of the N tenants.
      const warmup = Array.from({ length: settings.warmupJobs }, () => 'warmup');
      await eachLimited(warmup, 32, (tenant) => jobs.submit(tenant));
      if (!(await waitFor(async () => (await jobs.unfinished()) === 0, Date.now() + 120_000, 50))) {
        throw new Error(`the worker did not finish ${settings.warmupJobs} warm-up jobs within 120 s`);
      }
      await sleep(2000);
      const idle = await snapshot(worker, benchClients);

      // The backlog is queued while the worker is frozen, so the drain is timed from a full queue.
      worker.pause();
      const tenants = Array.from({ length: n }, (_, i) =>
        shape === '1×N' ? 'solo' : `t${String(i).padStart(5, '0')}`,
      );
      const submitStarted = performance.now();
      const submitted = await eachLimited(tenants, 32, async (tenant) => ({
        tenant,
        id: await jobs.submit(tenant),
      }));
      const submitSeconds = (performance.now() - submitStarted) / 1000;
      step(`${shape}, N=${n}: backlog queued in ${submitSeconds.toFixed(1)} s; resuming the worker`);

      const stopSampler = sampler(worker.pid);
      const resumedAt = Date.now();
      worker.resume();
      const deadline = resumedAt + settings.drainTimeoutSeconds * 1000;
      // A new tenant arrives once the worker is demonstrably working on the backlog.
      let left = n;
      await waitFor(async () => (left = await jobs.unfinished()) < n, deadline, 10);
      const fresh = { tenant: 'fresh', id: await jobs.submit('fresh') };
      const drained = await waitFor(async () => (await jobs.unfinished()) === 0, deadline, 100);
      const peaks = stopSampler();

      const times = await readTimes(jobs, submitted);
      const freshTimes: JobTimes | null = await jobs.read(fresh.tenant, fresh.id);
      const finished = times.map((t) => t?.finishedAt ?? Number.NaN).filter(Number.isFinite);
      const freshStarted = freshTimes?.startedAt ?? Number.NaN;
      await sleep(3000);
      const after = await snapshot(worker, benchClients);
      await worker.stop();
      return {
        n,
        shape,
        idle,
        after,
        peakRss: Math.max(peaks.peakRss, after.rss),
        peakConnections: Math.max(peaks.peakConnections, after.connections),
        rssGrowthPerUnit: (after.rss - idle.rss) / n,
        submitSeconds,
        drained,
        drainSeconds: drained ? (Math.max(...finished) - resumedAt) / 1000 : Number.NaN,
        fresh: {
          waitMs: freshTimes?.startedAt ? freshStarted - freshTimes.queuedAt : Number.NaN,
          backlogLeftAtSubmit: left,
          backlogStartedAfterIt: times.filter((t) => (t?.startedAt ?? Infinity) > freshStarted).length,
        },
        workerLog: { file: logFile, ...(await summarizeLog(logFile)) },
        loadavg: os.loadavg(),
      };
    } finally {
      await release();
      holding.delete(release);
    }
  }

  const releaseAll = () => Promise.all([...holding].map((release) => release()));
  return { runShape, releaseAll };
}
