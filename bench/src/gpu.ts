/**
 * bench:gpu (issue #3): how close the worker pool keeps S simulated GPU endpoints, each taking L per image,
 * to their limit of S/L images per second, and that no endpoint ever gets more than one request at once;
 * against a bare BullMQ Worker that only sleeps L.
 * Usage: npm run bench:gpu [-- --image-ms=200 --endpoints=1,2,4,8 --jobs-per-endpoint=40 --size=64]
 */
import { envFields } from '@castforge/core';
import { z } from 'zod';
import { runBare } from './gpu/bare-run';
import { type GpuSettings, runPool } from './gpu/pool-run';
import { type GpuRow, gpuRow, gpuTable } from './gpu/tables';
import { loadOptions, positiveIntList } from './support/options';
import { exitOnFailure, machine, print, step, writeResults } from './support/report';
import { cleanUpOnInterrupt, openServices } from './support/services';

const GpuOptions = z.object({
  /** L: SIMULATED_IMAGE_MS of the workers, the fixed time of one image. */
  BENCH_IMAGE_MS: z.coerce.number().int().min(1).max(60_000).default(200),
  /** S: the endpoint counts to run, one row each. */
  BENCH_ENDPOINTS: positiveIntList.default([1, 2, 4, 8]),
  BENCH_JOBS_PER_ENDPOINT: z.coerce.number().int().min(3).default(40),
  /** Width and height: small, so encoding never competes with the simulated GPU time. */
  BENCH_SIZE: z.coerce.number().int().min(64).max(2048).multipleOf(8).default(64),
  REDIS_URL: envFields.REDIS_URL,
});

async function main() {
  const options = loadOptions(GpuOptions);
  const started = performance.now();
  const services = await openServices('gpu', options.REDIS_URL);
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= services.close());
  // Each run deletes its own keys when it ends. On Ctrl-C no new run starts, the one going (seconds long)
  // is let finish so it cleans up after itself, then MongoDB stops.
  const stop = new AbortController();
  let current: Promise<unknown> = Promise.resolve();
  const track = <T>(run: Promise<T>) => ((current = run), run);
  const release = cleanUpOnInterrupt(async () => {
    stop.abort();
    await current.catch(() => undefined);
    await close();
  });
  print(
    `bench:gpu: L = ${options.BENCH_IMAGE_MS} ms per image (SIMULATED_IMAGE_MS), INFERENCE_CONCURRENCY=1,`,
  );
  print(
    `${options.BENCH_JOBS_PER_ENDPOINT} jobs per endpoint of ${options.BENCH_SIZE}×${options.BENCH_SIZE} PNG,`,
  );
  print('submitted over HTTP to the real API app, then worked by createWorkerPool in this process.\n');
  try {
    const rows: GpuRow[] = [];
    for (const endpoints of options.BENCH_ENDPOINTS) {
      const settings: GpuSettings = {
        endpoints,
        imageMs: options.BENCH_IMAGE_MS,
        jobs: endpoints * options.BENCH_JOBS_PER_ENDPOINT,
        size: options.BENCH_SIZE,
      };
      stop.signal.throwIfAborted();
      step(`S=${endpoints}: ${settings.jobs} jobs through the worker pool`);
      const ours = await track(runPool(services, settings));
      stop.signal.throwIfAborted();
      step(`S=${endpoints}: ${settings.jobs} jobs through a bare BullMQ Worker (concurrency ${endpoints})`);
      rows.push(gpuRow(settings, ours, await track(runBare(services, settings))));
    }
    print('\nImages per second over the steady state (from the S-th completion to the last):');
    print(gpuTable(rows));
    const totalSeconds = (performance.now() - started) / 1000;
    const file = await writeResults('gpu', {
      bench: 'gpu',
      finishedAt: new Date().toISOString(),
      machine: machine(services.redisVersion),
      options: {
        imageMs: options.BENCH_IMAGE_MS,
        endpoints: options.BENCH_ENDPOINTS,
        jobsPerEndpoint: options.BENCH_JOBS_PER_ENDPOINT,
        size: options.BENCH_SIZE,
      },
      pool: 'createWorkerPool in the bench process (simulated backend wrapped by an in-flight probe)',
      rows,
      totalSeconds,
    });
    print(`\nTotal ${totalSeconds.toFixed(0)} s. Results: ${file}`);
  } finally {
    await close();
    release();
  }
}

main().catch(exitOnFailure('bench:gpu'));
