/**
 * Issue 8, defect 6: a submit whose reply is lost after Redis ran it must never strand a job.
 * Old code: CREATE and BullMQ's add were separate commands (with `commandTimeout: 2000`), so a reply lost or
 * timed out after CREATE ran left a record `queued` forever with no BullMQ job, and its in-flight slot leaked.
 * Now both are one MULTI (apps/api producer → job store `submit`): the record and its BullMQ job exist together
 * or not at all, and a job that exists runs to an end.
 *
 * Runs on a Redis of its own: the test cuts its producer's connection at random moments (CLIENT KILL) and
 * pauses Redis past the producer's command timeout (CLIENT PAUSE), which must not touch other tests.
 */
import { randomBytes } from 'node:crypto';
import {
  type Redis,
  createJobStore,
  createLaneQueues,
  createRedis,
  isDependencyOutage,
  laneFor,
  newJobId,
  waitForRedis,
} from '@castforge/core';
import {
  type ApiHarness,
  type WorkerHarness,
  startApi,
  startWorker,
  testLogger,
  waitFor,
} from '@castforge/testkit';
import { openServicesOnOwnRedis } from '@castforge/testkit/own-redis';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';
import { type JobPayload } from '@castforge/schemas';
import { createProducer } from '../apps/api/src/jobs/producer';

describe('submits whose replies are lost', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  beforeAll(async () => {
    api = await startApi(
      'lifecycle-lost-replies',
      {},
      await openServicesOnOwnRedis('lifecycle-lost-replies'),
    );
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });
  afterAll(async () => {
    await api.close();
    await api.services.close();
  });

  /** A producer as the API builds it, on a fail-fast client of its own (the API's 'command' role). */
  const producerOn = (client: Redis) => {
    const keys = api.deps.jobs.keys;
    const jobs = createJobStore({ redis: client, keys, ids: api.deps.jobs.ids, retentionSeconds: 600 });
    const queues = createLaneQueues({ redis: client, keys });
    const producer = createProducer({ jobs, queues, retry: { attempts: 3, backoffMs: 200 } });
    const submit = (tenantId: string, jobId: string) => {
      const lane = laneFor(tenantId, 0);
      const payload: JobPayload = {
        kind: 'single',
        op: 'generate',
        request: { prompt: 'a lost reply', width: 64, height: 64, num_inference_steps: 2 },
      };
      return producer.submit(
        {
          jobId,
          tenantId,
          lane,
          priority: 0,
          orderBase: 0,
          payload,
          fields: { op: 'generate', lane, queued_at: Date.now(), units: 1 },
        },
        0,
      );
    };
    return { submit, close: () => queues.close() };
  };

  /** For every job id: does its record exist, does its BullMQ job, and will that BullMQ job stay? */
  const inspect = async (tenantId: string, jobIds: string[]) => {
    const b = api.deps.jobs.keys.forTenant(tenantId);
    const lane = laneFor(tenantId, 0);
    const waiting = new Set(await api.services.redis.lrange(b.bull(lane).wait, 0, -1));
    return Promise.all(
      jobIds.map(async (jobId) => {
        const [record, bullData, bullTtl] = await Promise.all([
          api.services.redis.hget(b.job(jobId), 'status'),
          api.services.redis.hget(b.bullJob(lane, jobId), 'data'),
          api.services.redis.pttl(b.bullJob(lane, jobId)),
        ]);
        return {
          jobId,
          record,
          bull: bullData !== null && waiting.has(jobId),
          // A BullMQ job set to expire would vanish under its queued record (-1: no expiry, -2: no key).
          bullExpires: bullData !== null && bullTtl >= 0,
        };
      }),
    );
  };

  it('with the connection cut at random moments: each job exists whole or not at all, and every one that exists runs to an end', async () => {
    const tenantId = 'lost-kill';
    const name = `lost-replies-${randomBytes(4).toString('hex')}`;
    const client = createRedis(api.services.redisUrl, 'command', testLogger('producer'), {
      connectionName: name,
    });
    const producer = producerOn(client);
    const jobIds = Array.from({ length: 400 }, () => newJobId());
    const accepted = new Set<string>();
    const outages: string[] = [];
    const refusals: string[] = [];
    let submitting = true;
    let kills = 0;

    // Cuts the producer's connection (server side: commands it already read run, their replies are lost).
    const killer = (async () => {
      while (submitting) {
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 12));
        const list = (await api.services.redis.client('LIST')) as string;
        const id = /id=(\d+) [^\n]*name=(\S+)/g;
        for (const match of list.matchAll(id)) {
          if (match[2] === name) {
            await api.services.redis.client('KILL', 'ID', match[1]!).catch(() => 0);
            kills += 1;
          }
        }
      }
    })();
    try {
      for (let at = 0; at < jobIds.length; at += 16) {
        await Promise.all(
          jobIds.slice(at, at + 16).map(async (jobId) => {
            try {
              await producer.submit(tenantId, jobId);
              accepted.add(jobId);
            } catch (err) {
              // A lost reply may only ever be answered as an outage (503); the id is fresh, nothing else fits.
              (isDependencyOutage(err) ? outages : refusals).push(`${jobId}: ${(err as Error).message}`);
            }
          }),
        );
      }
    } finally {
      submitting = false;
      await killer;
    }
    // Let the last replies (and resent commands) land before looking.
    try {
      await waitFor(async () => (await client.ping()) === 'PONG', {
        timeoutMs: 10_000,
        what: 'the producer to reconnect',
      });
    } finally {
      await producer.close();
      client.disconnect();
    }
    expect(kills).toBeGreaterThan(5);

    const seen = await inspect(tenantId, jobIds);
    const existing = seen.filter((s) => s.record !== null);
    const inFlight = await api.deps.jobs.inFlight(tenantId);
    const queued = (await api.deps.jobs.stateCounts()).queued;
    const facts = {
      // Accepted ⇒ it exists; and a record exists if and only if its BullMQ job does, and stays.
      acceptedButMissing: [...accepted].filter((jobId) => !seen.find((s) => s.jobId === jobId)?.record),
      halfJobs: seen.filter((s) => (s.record !== null) !== s.bull).map((s) => s.jobId),
      bullJobsSetToExpire: seen.filter((s) => s.bullExpires).map((s) => s.jobId),
      notQueued: existing.filter((s) => s.record !== 'queued').map((s) => s.jobId),
      inFlightMinusRecords: inFlight - existing.length,
      queuedMinusRecords: queued - existing.length,
      refusals,
      unfinished: [] as string[],
    };

    // Every job that exists runs to an end.
    worker = await startWorker(
      api.services,
      { INFERENCE_URLS: 'simulated://0,simulated://1,simulated://2,simulated://3' },
      { backend: scriptedBackend().backend },
    );
    await waitFor(async () => (await api.deps.jobs.inFlight(tenantId)) === 0, {
      timeoutMs: 30_000,
      what: 'every job that exists to end',
    }).catch(() => undefined);
    const ended = await Promise.all(existing.map((s) => api.deps.jobs.read(tenantId, s.jobId)));
    facts.unfinished = existing.filter((_, i) => ended[i]?.status !== 'completed').map((s) => s.jobId);
    expect(facts).toEqual({
      acceptedButMissing: [],
      halfJobs: [],
      bullJobsSetToExpire: [],
      notQueued: [],
      inFlightMinusRecords: 0,
      queuedMinusRecords: 0,
      refusals: [],
      unfinished: [],
    });
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  }, 60_000);

  it('a submit sent again after its reply was lost (ioredis re-sends unanswered commands) is accepted, and its job survives a long backlog', async () => {
    // What the storm above does at random, once and on purpose: the same MULTI reaches Redis twice.
    const tenantId = 'lost-resent';
    const client = createRedis(api.services.redisUrl, 'command', testLogger('producer'));
    const producer = producerOn(client);
    try {
      await waitForRedis(client, 5000);
      const jobId = newJobId();
      await producer.submit(tenantId, jobId);
      const again = await producer.submit(tenantId, jobId).then(
        () => 'accepted',
        (err: Error) => err.message,
      );
      const bullKey = api.deps.jobs.keys.forTenant(tenantId).bullJob(laneFor(tenantId, 0), jobId);
      const ttl = await api.services.redis.pttl(bullKey);
      // An expiry set on the BullMQ job fires if the job waits longer than it: bring that moment forward.
      if (ttl >= 0) await api.services.redis.pexpire(bullKey, 1);
      worker = await startWorker(api.services, {}, { backend: scriptedBackend().backend });
      const status = await waitFor(
        async () => {
          const record = await api.deps.jobs.read(tenantId, jobId);
          return record?.status === 'completed' && record.status;
        },
        { timeoutMs: 10_000, what: 'the job to complete' },
      ).catch(async () => {
        const record = await api.deps.jobs.read(tenantId, jobId);
        return `${record?.status} (${record?.failureReasonCode}: ${record?.error})`;
      });
      expect({ again, ttl, status }).toEqual({ again: 'accepted', ttl: -1, status: 'completed' });
      expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
    } finally {
      await producer.close();
      client.disconnect();
    }
  }, 30_000);

  it.each([
    ['shorter than the submit and its check together: answered accepted', 3000, 'accepted'],
    ['longer than both: answered as an outage', 5000, 'timed out'],
  ])(
    'a submit held up by a Redis pause %s, and in either case a whole job that runs',
    async (_how, pauseMs, answer) => {
      const tenantId = `lost-pause-${pauseMs}`;
      const client = createRedis(api.services.redisUrl, 'command', testLogger('producer'));
      const producer = producerOn(client);
      try {
        await waitForRedis(client, 5000);
        const jobId = newJobId();
        // The producer's commands time out after 2 s; if the MULTI does, it asks whether it ran (another 2 s).
        await api.services.redis.client('PAUSE', pauseMs, 'WRITE');
        const outcome = await producer.submit(tenantId, jobId).then(
          () => 'accepted',
          (err: Error) => (isDependencyOutage(err) ? err.message : `refused: ${err.message}`),
        );
        expect(outcome).toMatch(new RegExp(answer, 'i'));
        // Redis runs it once the pause is over, whatever the client was told.
        await waitFor(async () => (await inspect(tenantId, [jobId]))[0]!.record !== null, {
          timeoutMs: 10_000,
          what: 'the paused submit to run',
        });
        expect(await inspect(tenantId, [jobId])).toEqual([
          { jobId, record: 'queued', bull: true, bullExpires: false },
        ]);
        expect(await api.deps.jobs.inFlight(tenantId)).toBe(1);

        worker = await startWorker(api.services, {}, { backend: scriptedBackend().backend });
        await waitFor(async () => (await api.deps.jobs.read(tenantId, jobId))?.status === 'completed', {
          timeoutMs: 15_000,
          what: 'the job to complete',
        });
        expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
      } finally {
        await producer.close();
        client.disconnect();
      }
    },
    30_000,
  );
});
