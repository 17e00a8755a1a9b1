import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis, redisKeys } from '@castforge/core';
import { GENERATE_JOB_NAME } from '@castforge/schemas';
import { Queue, Worker } from 'bullmq';
import { type BenchServices, deleteUnder, newPrefix } from '../support/services';
import { type GpuSettings } from './pool-run';
import { steadyRate } from './steady-rate';

export interface BareRun {
  imagesPerSecond: number;
  wallSeconds: number;
}

/**
 * The baseline: the same number of jobs through a bare BullMQ Worker (concurrency S) whose processor only
 * sleeps L. No status record, no profile, no scheduler, no image: what BullMQ alone costs per job.
 */
export async function runBare(services: BenchServices, settings: GpuSettings): Promise<BareRun> {
  const prefix = newPrefix('gpubare');
  const { bullPrefix } = redisKeys(prefix).bucket(0);
  const redis = createRedis(services.redisUrl, 'worker', services.logger);
  const queue = new Queue('bare', { connection: redis, prefix: bullPrefix });
  const completions: number[] = [];
  let allDone = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const worker = new Worker(
    'bare',
    async () => {
      await sleep(settings.imageMs);
      completions.push(performance.now());
      if (completions.length === settings.jobs) allDone();
    },
    {
      connection: redis,
      prefix: bullPrefix,
      concurrency: settings.endpoints,
      autorun: false,
      removeOnComplete: { count: 0 },
    },
  );
  try {
    await queue.addBulk(
      Array.from({ length: settings.jobs }, () => ({ name: GENERATE_JOB_NAME, data: { kind: 'bare' } })),
    );
    const started = performance.now();
    void worker.run();
    const ideal = (settings.jobs * settings.imageMs) / settings.endpoints;
    // ref: false, so this guard never keeps the process alive once the run is over.
    const timeout = sleep(ideal * 3 + 30_000, 'timeout' as const, { ref: false });
    if ((await Promise.race([done, timeout])) === 'timeout')
      throw new Error('the bare worker did not finish');
    return {
      imagesPerSecond: steadyRate(completions, settings.endpoints),
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await worker.close();
    await queue.close();
    redis.disconnect();
    await deleteUnder(services.admin, prefix);
  }
}
