/**
 * A worker killed with SIGKILL in the middle of a job (docs/architecture.md, "A job in the worker"): its lock
 * expires, BullMQ hands the job to another worker, and the job still ends exactly once.
 *
 * The first worker is a real process started from apps/worker/dist, so run `npm run build` before running
 * this file on its own (`npm test` builds first). Locks and stall checks are shortened to seconds.
 */
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type ApiHarness,
  type WorkerHarness,
  type WorkerProcess,
  hasEnded,
  spawnWorker,
  startApi,
  startWorker,
} from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';

const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };

describe('a worker killed with SIGKILL in the middle of a job', () => {
  let api: ApiHarness;
  let doomed: WorkerProcess | undefined;
  let survivor: WorkerHarness | undefined;

  beforeAll(async () => {
    api = await startApi('story-worker-crash');
  });
  afterAll(async () => {
    await doomed?.stop('SIGKILL');
    await survivor?.close();
    await api.close();
  });

  /** `queue_jobs{state}` as the API's /metrics shows it, e.g. `{ queued: 0, processing: 1, pending: 0 }`. */
  const queueJobsOnMetrics = async (): Promise<Record<string, number>> => {
    const text = (await request(api.server).get('/metrics')).text;
    return Object.fromEntries(
      [...text.matchAll(/^queue_jobs\{[^}]*state="(\w+)"[^}]*\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]),
    );
  };

  it('is run again by another worker and ends exactly once: completed, attempts 2, one result, counters at 0', async () => {
    const tenant = 'crash';
    const key = await api.keyFor(tenant);
    const statusOf = async (jobId: string) =>
      (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
        .body as JobStatus;

    // 20 steps of 400 ms: the job is certainly still running when its worker dies.
    doomed = spawnWorker(api.services, { ...FAST_RECOVERY, SIMULATED_STEP_MS: '400' });
    const submitted = await request(api.server).post('/generate/image/v1').set('X-API-Key', key).send({
      prompt: 'a ship in a storm',
      width: 64,
      height: 64,
      num_inference_steps: 20,
      output_format: 'png',
    });
    expect(submitted.status).toBe(202);
    const jobId = submitted.body.job_id as string;
    await waitFor(
      async () => {
        const s = await statusOf(jobId);
        return s.status === 'processing' && s.progress > 0;
      },
      { timeoutMs: 20_000, what: 'the job to be mid-run on the worker process' },
    );
    const firstRun = await statusOf(jobId);

    await doomed.stop('SIGKILL');
    expect((await statusOf(jobId)).status).toBe('processing');
    survivor = await startWorker(api.services, { ...FAST_RECOVERY, SIMULATED_STEP_MS: '5' });

    const final = await waitFor(
      async () => {
        const s = await statusOf(jobId);
        return hasEnded(s) && s;
      },
      { timeoutMs: 30_000, what: 'the job to end on the second worker' },
    );
    expect(final).toMatchObject({
      status: 'completed',
      attempts: 2,
      progress: 100,
      error: null,
      failure_reason_code: null,
      // The second run keeps the seed and prompt the first one reported.
      seed: firstRun.seed,
      prompt: firstRun.prompt,
      started_at: firstRun.started_at,
    });
    const link = new URL(final.result_url!);
    const image = await fetch(`${api.baseUrl}${link.pathname}${link.search}`);
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).length).toBe(final.result_size_bytes);

    const resultDir = path.join(tmpdir(), `castforge-test-${api.services.prefix}`, 'results');
    expect((await readdir(resultDir)).filter((name) => name.startsWith(jobId))).toEqual([`${jobId}.png`]);
    expect(await survivor.pool.metrics.completed.get()).toMatchObject({
      values: [
        expect.objectContaining({ labels: expect.objectContaining({ outcome: 'completed' }), value: 1 }),
      ],
    });

    // Nothing counts the job as in flight any more (the tenant's counter is gone), and none went below zero.
    expect(await api.deps.jobs.inFlight(tenant)).toBe(0);
    expect(await api.services.redis.hexists(api.deps.jobs.keys.forTenant(tenant).inflight, tenant)).toBe(0);
    expect(await api.deps.jobs.stateCounts()).toEqual({ queued: 0, processing: 0, pending: 0 });
    await waitFor(
      async () => {
        const gauge = await queueJobsOnMetrics();
        return gauge.queued === 0 && gauge.processing === 0 && gauge.pending === 0 && gauge;
      },
      { timeoutMs: 5000, what: 'queue_jobs on /metrics to read 0 in every state' },
    );

    // Still the same ending after all that: nothing finished it a second time.
    expect(await statusOf(jobId)).toEqual(final);
  }, 60_000);
});
