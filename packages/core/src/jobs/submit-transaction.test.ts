import { randomBytes } from 'node:crypto';
import { type TestServices, openServices } from '@castforge/testkit';
import { Redis } from 'ioredis';
import { newJobId } from '../ids';
import { createCampaignIds } from './job-ids';
import { createJobStore } from './job-store';
import { laneFor, redisKeys } from './keys';
import { type LaneQueues, type Transaction, createLaneQueues } from './lane-queues';
import { defineScripts } from './scripts';

/**
 * The submit transaction when something goes wrong on its connection (SPEC §13, §14). A WAIT that fails after
 * the job was written is answered as a WAIT that timed out: the job is accepted, not a 500. A Redis Cluster
 * client that sent a MULTI again after a failover was seen answering a WAIT with an EXECABORT meant for another
 * command, so a Cluster connection whose transaction failed is given up (`retire`; test/cluster-failover.test.ts
 * is the story). A single server's is kept: its MULTI queued during a pause must still run.
 */
describe('the submit transaction', () => {
  let services: TestServices;
  /** A real client of a port nothing listens on, that does not retry: every command on it fails at once. */
  let unreachable: Redis;
  beforeAll(async () => {
    services = await openServices('submit-transaction');
    unreachable = new Redis({
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    unreachable.on('error', () => undefined);
    defineScripts(unreachable, ['jobCreate']);
  });
  const opened: LaneQueues[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((queues) => queues.close()));
    unreachable.disconnect();
    await services.close();
  });

  const setup = () => {
    const keys = redisKeys(services.prefix, 16);
    const ids = createCampaignIds(randomBytes(32).toString('hex'));
    const store = createJobStore({
      redis: services.redis,
      keys,
      ids,
      retentionSeconds: 600,
      durability: { replicas: 1, timeoutMs: 100 },
    });
    const queues = createLaneQueues({ redis: services.redis, keys });
    opened.push(queues);
    return { keys, store, queues };
  };

  const submit = (
    store: ReturnType<typeof setup>['store'],
    tenantId: string,
    transaction: () => Promise<Transaction>,
  ) => {
    const jobId = newJobId();
    const lane = laneFor(tenantId, 0);
    return store
      .submit(
        {
          jobId,
          tenantId,
          lane,
          orderBase: 0,
          fields: { op: 'generate', lane, queued_at: Date.now(), units: 1 },
        },
        0,
        { transaction, add: () => undefined },
      )
      .then(() => jobId);
  };

  it('accepts the job when the WAIT for replicas fails', async () => {
    const { store, queues, keys } = setup();
    const tenantId = 'wait-fails';
    const queue = queues.get(keys.forTenant(tenantId).bucket, laneFor(tenantId, 0));
    let retired = 0;
    const jobId = await submit(store, tenantId, async () => ({
      ...(await queues.transaction(queue)),
      connection: unreachable,
      retire: () => retired++,
    }));
    expect(await store.read(tenantId, jobId)).toMatchObject({ status: 'queued' });
    expect(retired).toBe(0); // a single server's connection
  });

  it("says why the MULTI failed, and keeps a single server's connection", async () => {
    const { store } = setup();
    let retired = 0;
    const failed = await submit(store, 'exec-fails', () =>
      Promise.resolve({ multi: unreachable.multi(), connection: unreachable, retire: () => retired++ }),
    ).catch((err: Error) => err.message);
    expect(failed).toMatch(/Stream isn't writeable/);
    expect(retired).toBe(0);
  });

  it('opens a fresh connection for the next transaction once one was given up', async () => {
    const { queues, keys } = setup();
    const queue = queues.get(keys.forTenant('fresh').bucket, laneFor('fresh', 0));
    const first = await queues.transaction(queue);
    expect((await queues.transaction(queue)).connection).toBe(first.connection);
    first.retire();
    const next = await queues.transaction(queue);
    expect(next.connection).not.toBe(first.connection);
    expect(first.connection.status).toMatch(/end|close/);
    // Retiring an old transaction again leaves the fresh connection alone.
    first.retire();
    expect((await queues.transaction(queue)).connection).toBe(next.connection);
    next.retire();
  });
});
