/**
 * What an operator scrapes (SPEC §10, STYLE "Smaller habits"): after a few jobs that complete, fail and are
 * cancelled, a real worker process's /metrics and the API's /metrics carry the job, queue, inference, cache
 * and HTTP metrics, with bounded labels (never a job, profile or tenant id).
 *
 * The worker is a real process started from apps/worker/dist, so run `npm run build` before running this
 * file on its own (`npm test` builds first).
 */
import { createServer } from 'node:net';
import { type ApiHarness, type WorkerProcess, jobEnded, spawnWorker, startApi } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import request from 'supertest';

const TENANT = 'observed';

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of one metric in Prometheus text format. */
function samples(text: string, name: string): Sample[] {
  const found: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    found.push({ labels, value: Number(match[3]) });
  }
  return found;
}

/** The sum of a metric's samples whose labels include these. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text, name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Label values that would make a metric's cardinality grow with traffic. */
function unboundedLabels(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('#') && /(job|prof)_[0-9a-f]{16}|"observed"/.test(line));
}

/** A port free a moment ago, for the worker's metrics server (WORKER_METRICS_PORT 0 would hide it from us). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

describe('metrics after a few jobs', () => {
  let api: ApiHarness;
  let worker: WorkerProcess | undefined;
  let workerMetrics: string;
  let apiMetrics: () => Promise<string>;
  let key: string;

  beforeAll(async () => {
    api = await startApi('story-observability', { JOB_ATTEMPTS: '1' });
    apiMetrics = async () => (await request(api.server).get('/metrics').expect(200)).text;
    key = await api.keyFor(TENANT);
    const profile = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'Observed', prompt_template: 'grey eyes', width: 64, height: 64, steps: 2 });
    expect(profile.status).toBe(201);
    const submit = async (body: Record<string, unknown>) => {
      const res = await request(api.server).post('/generate/image/v1').set('X-API-Key', key).send(body);
      expect(res.status).toBe(202);
      return res.body.job_id as string;
    };
    const profileId = profile.body.profile_id as string;
    // Two that complete, one that runs past its one-second budget (150 steps of 20 ms), one cancelled.
    const jobIds = [
      await submit({ prompt: 'a market', profile_id: profileId }),
      await submit({ prompt: 'a station', profile_id: profileId }),
      await submit({ prompt: 'a long one', width: 64, height: 64, num_inference_steps: 150 }),
    ];
    const cancelled = await submit({ prompt: 'never mind', width: 64, height: 64 });
    expect(
      (await request(api.server).post(`/generate/image/v1/cancel/${cancelled}`).set('X-API-Key', key)).status,
    ).toBe(202);
    expect(
      (await request(api.server).get('/generate/image/v1/status/job_0000000000000000').set('X-API-Key', key))
        .status,
    ).toBe(404);
    await waitFor(async () => valueOf(await apiMetrics(), 'queue_jobs', { state: 'queued' }) === 3, {
      what: 'queue_jobs{state="queued"} to read 3 before any worker runs',
    });

    const port = await freePort();
    worker = spawnWorker(api.services, {
      WORKER_METRICS_PORT: String(port),
      JOB_TIMEOUT_SECONDS: '1',
      SIMULATED_STEP_MS: '20',
    });
    const ended = await Promise.all(jobIds.map((jobId) => jobEnded(api, key, jobId, { timeoutMs: 20_000 })));
    expect(ended.map((s) => [s.status, s.failure_reason_code])).toEqual([
      ['completed', null],
      ['completed', null],
      ['failed', 'TIMEOUT'],
    ]);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    workerMetrics = await res.text();
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await api.close();
  });

  describe("the worker's /metrics", () => {
    it('counts ended jobs by outcome in jobs_completed_total{outcome}', () => {
      expect(valueOf(workerMetrics, 'jobs_completed_total', { outcome: 'completed' })).toBe(2);
      expect(valueOf(workerMetrics, 'jobs_completed_total', { outcome: 'failed' })).toBe(1);
      expect(samples(workerMetrics, 'jobs_completed_total')[0]?.labels.endpoint).toBe('/generate/image/v1');
    });

    it('counts failures by failure_reason_code in jobs_failed_total', () => {
      expect(
        samples(workerMetrics, 'jobs_failed_total').map((s) => [s.labels.failure_reason_code, s.value]),
      ).toEqual([['TIMEOUT', 1]]);
    });

    it('times the wait for a GPU of every started job in job_queue_wait_seconds', () => {
      expect(valueOf(workerMetrics, 'job_queue_wait_seconds_count')).toBe(3);
      expect(valueOf(workerMetrics, 'job_queue_wait_seconds_sum')).toBeGreaterThan(0);
      expect(valueOf(workerMetrics, 'job_queue_wait_seconds_bucket', { le: '+Inf' })).toBe(3);
    });

    it('times each finished generation in inference_duration_seconds{backend}', () => {
      expect(valueOf(workerMetrics, 'inference_duration_seconds_count', { backend: 'simulated' })).toBe(2);
      expect(
        valueOf(workerMetrics, 'inference_duration_seconds_sum', { backend: 'simulated' }),
      ).toBeGreaterThan(0);
    });

    it('counts profile cache hits and misses: one read of the profile for its two jobs', () => {
      expect(valueOf(workerMetrics, 'profile_cache_misses_total')).toBe(1);
      expect(valueOf(workerMetrics, 'profile_cache_hits_total')).toBe(1);
    });

    it('never labels a sample with a job, profile or tenant id', () => {
      expect(unboundedLabels(workerMetrics)).toEqual([]);
    });
  });

  describe("the API's /metrics", () => {
    it('shows queue_jobs{queue,state} back at 0 in every live state once the jobs ended', async () => {
      const text = await waitFor(
        async () => {
          const current = await apiMetrics();
          const states = samples(current, 'queue_jobs').filter((s) => s.labels.queue === 'generate');
          return states.length === 3 && states.every((s) => s.value === 0) && current;
        },
        { timeoutMs: 5000, what: 'queue_jobs to read 0' },
      );
      expect(
        samples(text, 'queue_jobs')
          .map((s) => `${s.labels.queue}/${s.labels.state}`)
          .sort(),
      ).toEqual([
        'generate/pending',
        'generate/processing',
        'generate/queued',
        'webhooks/active',
        'webhooks/delayed',
        'webhooks/failed',
        'webhooks/waiting',
      ]);
    });

    it('times requests in http_request_duration_seconds by route pattern, method and status', async () => {
      const text = await apiMetrics();
      const count = (method: string, route: string, status: string) =>
        valueOf(text, 'http_request_duration_seconds_count', { method, route, status_code: status });
      expect(count('POST', '/profiles/v1', '201')).toBe(1);
      expect(count('POST', '/generate/image/v1', '202')).toBe(4);
      expect(count('POST', '/generate/image/v1/cancel/:job_id', '202')).toBe(1);
      expect(count('GET', '/generate/image/v1/status/:job_id', '200')).toBeGreaterThanOrEqual(3);
      expect(count('GET', '/generate/image/v1/status/:job_id', '404')).toBe(1);
      expect(unboundedLabels(text)).toEqual([]);
    });

    it('counts submissions and the cancel it recorded itself', async () => {
      const text = await apiMetrics();
      expect(valueOf(text, 'jobs_submitted_total', { endpoint: '/generate/image/v1' })).toBe(4);
      expect(valueOf(text, 'jobs_completed_total', { outcome: 'cancelled' })).toBe(1);
    });
  });
});
