import { rm } from 'node:fs/promises';
import { type JobRecord, type JobStore, createRedis, createRegistry } from '@castforge/core';
import { WorkerConfig } from '@castforge/worker/dist/config';
import { createBackend } from '@castforge/worker/dist/inference/registry';
import { createWorkerPool } from '@castforge/worker/dist/pool';
import { type BenchApi, startApi } from '../support/api';
import { createHttpClient } from '../support/http';
import { type BenchServices, deleteUnder, newPrefix } from '../support/services';
import { probeInFlight } from './in-flight-probe';
import { steadyRate } from './steady-rate';

const TENANT = 'bench';

export interface GpuSettings {
  endpoints: number;
  imageMs: number;
  jobs: number;
  size: number;
}

export interface PoolRun {
  imagesPerSecond: number;
  /** From the worker's gpu_endpoint_in_flight_max gauge, per endpoint. */
  inFlightMaxMetric: number[];
  /** From the probe wrapped around the backend, per endpoint. */
  inFlightMaxProbe: number[];
  /** What the simulated backend actually took per image (timers overshoot a little). */
  inferenceMsMean: number;
  wallSeconds: number;
}

/** POSTs the jobs through the real API, one after another, as clients would; returns their ids. */
async function submit(api: BenchApi, settings: GpuSettings): Promise<string[]> {
  const http = createHttpClient(api.baseUrl, { 'x-api-key': await api.keyFor(TENANT) });
  const body = { prompt: 'bench', width: settings.size, height: settings.size, output_format: 'png' };
  const ids: string[] = [];
  try {
    for (let i = 0; i < settings.jobs; i++) {
      const reply = await http.post('/generate/image/v1', body);
      if (reply.status !== 202) throw new Error(`POST /generate/image/v1: HTTP ${reply.status}`);
      ids.push((reply.body as { job_id: string }).job_id);
    }
  } finally {
    http.close();
  }
  return ids;
}

/** Waits until no job of the deployment is queued, pending or processing, or the deadline passes. */
async function drained(jobs: JobStore, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const counts = await jobs.stateCounts();
    if (counts.queued + counts.pending + counts.processing === 0) return;
    if (Date.now() > until)
      throw new Error(`jobs still running after ${deadlineMs} ms: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function finishedRecords(jobs: JobStore, ids: string[]): Promise<JobRecord[]> {
  const records = await Promise.all(ids.map((id) => jobs.read(TENANT, id)));
  const bad = records.filter((r) => r?.status !== 'completed');
  if (bad.length) {
    const first = bad[0];
    throw new Error(
      `${bad.length} jobs did not complete; e.g. ${first?.status}: ${first?.error ?? 'no record'}`,
    );
  }
  return records as JobRecord[];
}

async function inFlightMetric(registry: ReturnType<typeof createRegistry>, endpoints: number) {
  const metric = await registry.getSingleMetric('gpu_endpoint_in_flight_max')?.get();
  const byEndpoint = new Map(metric?.values.map((v) => [Number(v.labels.endpoint), v.value]));
  return Array.from({ length: endpoints }, (_, i) => byEndpoint.get(i) ?? Number.NaN);
}

/**
 * Ours: jobs submitted over HTTP to the real API, then a real worker pool (createWorkerPool, in this
 * process) on S simulated endpoints with INFERENCE_CONCURRENCY=1 works the queue empty.
 */
export async function runPool(services: BenchServices, settings: GpuSettings): Promise<PoolRun> {
  const prefix = newPrefix('gpu');
  const api = await startApi(services, prefix, { RATE_LIMIT_RPS: '0' });
  const redis = createRedis(services.redisUrl, 'worker', services.logger);
  const subscriber = createRedis(services.redisUrl, 'subscriber', services.logger);
  try {
    const ids = await submit(api, settings);
    const config = WorkerConfig.parse({
      REDIS_URL: services.redisUrl,
      REDIS_PREFIX: prefix,
      MONGODB_URI: services.mongoUri,
      INFERENCE_URLS: Array.from({ length: settings.endpoints }, (_, i) => `simulated://${i}`).join(','),
      INFERENCE_CONCURRENCY: '1',
      SIMULATED_IMAGE_MS: String(settings.imageMs),
      DATA_DIR: api.dataDir,
      WORKER_ID: `bench-${prefix}`,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    });
    const probe = probeInFlight(createBackend(config, services.logger));
    const registry = createRegistry('worker');
    const pool = await createWorkerPool(
      config,
      { redis, subscriber, mongo: services.mongo, logger: services.logger, registry },
      { backend: probe.backend },
    );
    try {
      const started = performance.now();
      await pool.start();
      const ideal = (settings.jobs * settings.imageMs) / settings.endpoints;
      await drained(pool.jobs, ideal * 3 + 30_000);
      const wallSeconds = (performance.now() - started) / 1000;
      const records = await finishedRecords(api.deps.jobs, ids);
      return {
        imagesPerSecond: steadyRate(
          records.map((r) => r.finishedAt!),
          settings.endpoints,
        ),
        inFlightMaxMetric: await inFlightMetric(registry, settings.endpoints),
        inFlightMaxProbe: probe.maxSeen(settings.endpoints),
        inferenceMsMean: records.reduce((sum, r) => sum + (r.inferenceMs ?? 0), 0) / records.length,
        wallSeconds,
      };
    } finally {
      await pool.close();
    }
  } finally {
    await api.close();
    redis.disconnect();
    subscriber.disconnect();
    await deleteUnder(services.admin, prefix);
    await rm(api.dataDir, { recursive: true, force: true });
  }
}
