/**
 * Redis Cluster (SPEC §14, issue #12): a master killed with SIGKILL while jobs run. Its replica is promoted,
 * every job the API accepted (202) still ends, and the workers go on fetching afterwards — the known BullMQ
 * trap is workers that stop fetching after a failover. The test starts a 3-master, 3-replica cluster of its
 * own (test/support/redis-cluster.ts), so it runs in every lane.
 */
import calculateSlot from 'cluster-key-slot';
import { type JobStatus } from '@castforge/schemas';
import { redisKeys } from '@castforge/core';
import { type ApiHarness, type WorkerHarness, hasEnded, startApi, startWorker } from '@castforge/testkit';
import { type RedisCluster, startRedisCluster } from '@castforge/testkit/redis-cluster';
import { waitFor } from '@castforge/testkit/wait';
import request from 'supertest';

const TENANTS = ['north', 'south', 'east', 'west', 'harbour', 'ridge'];

describe('a Redis Cluster master killed while jobs run', () => {
  let cluster: RedisCluster;
  let api: ApiHarness;
  let worker: WorkerHarness;
  const accepted = new Map<string, string>(); // job id → tenant
  const before = process.env.REDIS_CLUSTER_NODES;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    process.env.REDIS_CLUSTER_NODES = cluster.nodes.join(',');
    // A replica must hold an accepted job before it is answered: replication is asynchronous.
    api = await startApi('cluster-failover', { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500' });
    worker = await startWorker(api.services, {
      SIMULATED_STEP_MS: '20',
      INFERENCE_URLS: 'simulated://0,simulated://1',
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      WORKER_MAX_STALLED_COUNT: '5',
    });
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await cluster?.stop();
    if (before === undefined) delete process.env.REDIS_CLUSTER_NODES;
    else process.env.REDIS_CLUSTER_NODES = before;
  }, 60_000);

  /** Submits a job; a 503 while the cluster moves a slot is not an accepted job (the client retries). */
  const submit = async (tenant: string, prompt: string): Promise<boolean> => {
    const res = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', await api.keyFor(tenant))
      .send({ prompt, width: 64, height: 64, num_inference_steps: 10, output_format: 'png' });
    if (res.status === 202) accepted.set(res.body.job_id as string, tenant);
    else expect(res.status).toBe(503);
    return res.status === 202;
  };
  const statusOf = async (jobId: string) =>
    (
      await request(api.server)
        .get(`/generate/image/v1/status/${jobId}`)
        .set('X-API-Key', await api.keyFor(accepted.get(jobId)!))
    ).body as JobStatus;

  it('ends every accepted job, and the workers keep fetching after the replica takes over', async () => {
    // The tenants' buckets sit on different masters: the one killed holds some of them, not all.
    const slots = TENANTS.map((t) => calculateSlot(redisKeys(api.services.prefix).forTenant(t).ready));
    const owners = await Promise.all(slots.map((slot) => cluster.masterOf(slot)));
    expect(new Set(owners).size).toBeGreaterThan(1);
    const victim = owners[0]!;

    for (let round = 0; round < 5; round++) {
      for (const tenant of TENANTS) await submit(tenant, `before the failover ${round}`);
    }
    await waitFor(
      async () =>
        (await Promise.all([...accepted.keys()].map(statusOf))).some((s) => s.status === 'processing'),
      { timeoutMs: 15_000, what: 'jobs running on the GPUs' },
    );

    cluster.kill(victim);
    // Submits go on while the replica takes over: some are refused with a fast 503, none hangs.
    const during: Promise<boolean>[] = [];
    for (let round = 0; round < 3; round++)
      for (const tenant of TENANTS) during.push(submit(tenant, `during ${round}`));
    await Promise.all(during);
    await cluster.healed(victim);

    // After the failover: new jobs of the tenants whose master died must be fetched and run too.
    for (let round = 0; round < 3; round++) {
      for (const tenant of TENANTS) {
        await waitFor(() => submit(tenant, `after the failover ${round}`), {
          timeoutMs: 20_000,
          what: `a submit for ${tenant} to be accepted again`,
        });
      }
    }

    await waitFor(async () => (await Promise.all([...accepted.keys()].map(statusOf))).every(hasEnded), {
      timeoutMs: 90_000,
      what: 'every accepted job to end',
      intervalMs: 500,
    });
    const final = await Promise.all([...accepted.keys()].map(statusOf));
    expect(final.filter((s) => s.status === 'completed').length).toBeGreaterThan(final.length / 2);
    for (const s of final) expect(['completed', 'failed']).toContain(s.status);
    for (const tenant of TENANTS) expect(await api.deps.jobs.inFlight(tenant)).toBe(0);
  }, 180_000);
});
