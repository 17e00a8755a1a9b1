import { startOpsServer } from '../../apps/worker/src/ops/ops-server';
import { type ApiHarness, startApi } from './api';
import { jobEnded } from './jobs';
import { scriptedBackend } from './scripted-backend';
import { type WorkerHarness, startWorker } from './worker';
import { waitFor } from './wait';
import { type WebhookReceiver, startReceiver } from './webhook-receiver';

export interface OpsStack {
  api: ApiHarness;
  worker: WorkerHarness;
  /** `host:port` of the API and of the worker's ops server, as a Prometheus scrape target. */
  targets: { api: string; worker: string };
  /**
   * A round of the jobs an operator's dashboard shows: two completed (one calling a webhook back), one
   * refused by the backend (INPUT_INVALID, with a webhook), one failing twice (MODEL_ERROR, retried
   * once), one cancelled on the GPU, and one request refused 429 by a rate limit. Resolves once every
   * job has ended and both webhooks arrived.
   */
  runJobs(): Promise<void>;
  /** GET /metrics of the API and of the worker, as Prometheus would read them. */
  metrics(): Promise<{ api: string; worker: string }>;
  close(): Promise<void>;
}

const TENANT = 'operator';
const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };
/** Settings of the stack: a retry after 50 ms, and an unauthenticated budget small enough to reach. */
const API_ENV = { ...LOOPBACK, JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '50', RATE_LIMIT_UNAUTHENTICATED: '2' };

async function text(url: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
  return res.text();
}

/**
 * The API and a worker pool in this process, with the worker's ops server (/metrics) on a port of its
 * own: the stack whose metrics the operator's tools read. `runJobs` gives every metric family samples
 * with labels, not only its HELP and TYPE lines.
 */
export async function startOpsStack(name: string): Promise<OpsStack> {
  const api = await startApi(name, API_ENV);
  const scripted = scriptedBackend();
  let worker: WorkerHarness | undefined;
  let ops: Awaited<ReturnType<typeof startOpsServer>> | undefined;
  let receiver: WebhookReceiver | undefined;
  const close = async () => {
    scripted.releaseHeld();
    await ops?.close();
    await worker?.close();
    await receiver?.close();
    await api.close();
  };
  try {
    receiver = await startReceiver();
    worker = await startWorker(api.services, LOOPBACK, { backend: scripted.backend });
    ops = await startOpsServer({
      port: 0,
      redis: api.services.redis,
      mongo: api.services.mongo,
      registry: worker.registry,
    });
    const key = await api.keyFor(TENANT);
    const post = async (path: string, body: unknown, status: number, as = key) => {
      const res = await fetch(`${api.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'X-API-Key': as, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== status) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const profile = await post('/profiles/v1', { name: 'Operator', width: 64, height: 64, steps: 2 }, 201);
    const hooks = receiver;
    let round = 0;
    const runJobs = async () => {
      round += 1;
      const submit = async (body: Record<string, unknown>) =>
        (await post('/generate/image/v1', { profile_id: profile.profile_id, ...body }, 202)).job_id as string;
      const webhooksBefore = hooks.received.length;
      const ended = [
        await submit({ prompt: `a harbour ${round}`, callback_url: hooks.url('/done') }),
        await submit({ prompt: `a lighthouse ${round}` }),
        await submit({ prompt: `reject this one ${round}`, callback_url: hooks.url('/failed') }),
        await submit({ prompt: `flaky twice ${round}` }),
      ];
      const held = await submit({ prompt: `hold until cancelled ${round}` });
      await waitFor(() => scripted.reached.includes(held), { what: 'the held job to reach the GPU' });
      await post(`/generate/image/v1/cancel/${held}`, {}, 202);
      for (const jobId of [...ended, held]) await jobEnded(api, key, jobId, { timeoutMs: 20_000 });
      await waitFor(() => hooks.received.length >= webhooksBefore + 2, { what: 'both webhooks to arrive' });
      // Past the unauthenticated budget (2): the third bad key of this round is refused 429.
      for (let i = 0; i < 3; i++)
        await post('/profiles/v1', {}, i < 2 && round === 1 ? 401 : 429, 'cfk_wrong');
    };

    const targets = { api: new URL(api.baseUrl).host, worker: `127.0.0.1:${ops.port}` };
    return {
      api,
      worker,
      targets,
      runJobs,
      metrics: async () => ({
        api: await text(`http://${targets.api}/metrics`),
        worker: await text(`http://${targets.worker}/metrics`),
      }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
