import { testLogger } from '@castforge/testkit';
import { type JobStoreKit, jobStoreKit } from '@castforge/testkit/job-store';
import { type OwnRedis, startOwnRedis } from '@castforge/testkit/own-redis';
import { type Redis, createRedis } from '../redis/connection';

/**
 * Issue 8, defect 7 (SPEC §4, §13): a status read costs the same whatever the queue depth and however many
 * campaigns are live. Old code: the READ of a waiting campaign job looped over every live campaign ahead of it
 * in its lane, so one tenant with thousands of small campaigns slowed every tenant's polls.
 *
 * Cost is counted as Redis counts it: the commands a read executes, from INFO commandstats (Redis 7 counts the
 * calls a script makes too). On a redis-server of the test's own, so no other test's commands are counted.
 */
describe('the cost of a status read', () => {
  let own: OwnRedis;
  let redis: Redis;
  let kit: JobStoreKit;
  beforeAll(async () => {
    own = await startOwnRedis();
    redis = createRedis(own.url, 'worker', testLogger('read-cost'));
    kit = jobStoreKit(redis, 'readcost');
  });
  afterAll(async () => {
    await kit.close();
    redis.disconnect();
    await own.stop();
  });

  /** Calls per command since the server started (INFO itself left out). */
  const commandStats = async (): Promise<Map<string, number>> => {
    const text = await redis.info('commandstats');
    const calls = new Map<string, number>();
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (match[1] !== 'info') calls.set(match[1]!, Number(match[2]));
    }
    return calls;
  };
  /** The commands Redis executed while `action` ran, by name. */
  const commandsOf = async (action: () => Promise<unknown>): Promise<Record<string, number>> => {
    const before = await commandStats();
    await action();
    const after = await commandStats();
    const delta: Record<string, number> = {};
    for (const [name, calls] of after) {
      const n = calls - (before.get(name) ?? 0);
      if (n) delta[name] = n;
    }
    return delta;
  };
  const total = (commands: Record<string, number>) => Object.values(commands).reduce((a, b) => a + b, 0);

  it('is measured on a quiet server: nothing runs between two looks', async () => {
    expect(await commandsOf(() => Promise.resolve())).toEqual({});
  });

  it('of a waiting campaign job is the same with 1 or 200 live campaigns ahead of it in its lane', async () => {
    const alone = await kit.campaign('cost-one', 10);
    for (let i = 0; i < 199; i++) await kit.campaign('cost-many', 10);
    const last = await kit.campaign('cost-many', 10);
    // One read of each first, so the script is loaded (EVALSHA, not EVAL) for both measured reads.
    await kit.store.read('cost-one', alone.jobIds[7]!);
    await kit.store.read('cost-many', last.jobIds[7]!);

    const oneCampaign = await commandsOf(() => kit.store.read('cost-one', alone.jobIds[7]!));
    const manyCampaigns = await commandsOf(() => kit.store.read('cost-many', last.jobIds[7]!));
    expect((await kit.store.read('cost-many', last.jobIds[7]!))?.status).toBe('queued');
    expect((await kit.store.read('cost-many', last.jobIds[7]!))?.ahead).toBe(199 * 10 + 7);
    // One script call, and the commands it made inside are counted too (else equal counts would prove nothing).
    expect(oneCampaign).toMatchObject({ evalsha: 1, hgetall: 1 });
    expect(manyCampaigns).toEqual(oneCampaign);
    // A handful of commands, not one per campaign.
    expect(total(manyCampaigns)).toBeLessThan(30);
  });

  it('of a queued single job is the same with 1 or 1000 jobs waiting in its lane', async () => {
    const shallow = await kit.submit('cost-shallow');
    for (let i = 0; i < 999; i++) await kit.submit('cost-deep');
    const deep = await kit.submit('cost-deep');
    await kit.store.read('cost-shallow', shallow.jobId);

    const few = await commandsOf(() => kit.store.read('cost-shallow', shallow.jobId));
    const many = await commandsOf(() => kit.store.read('cost-deep', deep.jobId));
    expect((await kit.store.read('cost-deep', deep.jobId))?.ahead).toBe(999);
    expect(many).toEqual(few);
  });
});
