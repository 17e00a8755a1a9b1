import { type TestServices, openServices } from '@castforge/testkit';
import { type JobStoreKit, jobStoreKit } from '@castforge/testkit/job-store';
import { laneFor } from './keys';
import { callScript } from './scripts';

/**
 * LANE-CHECK, when a worker's visit finds a lane with nothing to take. An empty lane leaves the `ready` index
 * and its keys go, so Redis does not grow with every tenant that ever submitted; but its numbering must stay
 * while a campaign of the bucket is being enqueued. The quick chaos run found a lane kept for that reason and
 * then never visited again: its numbering hash stayed for good, without a TTL. It must stay in the index, to be
 * checked again, and go once the enqueue is over.
 */
describe('LANE-CHECK on an empty lane', () => {
  let services: TestServices;
  let kit: JobStoreKit;
  beforeAll(async () => {
    services = await openServices('lane-check');
    kit = jobStoreKit(services.redis, services.prefix);
  });
  afterAll(async () => {
    await kit.close();
    await services.close();
  });

  const check = (tenantId: string, lane: string, now: number) =>
    callScript(services.redis, 'laneCheck', kit.keys.forTenant(tenantId).laneCheckKeys(lane), [
      lane,
      now,
      15_000,
    ]);

  /** A lane whose jobs have all ended: numbered, BullMQ's bookkeeping left, still in `ready`. */
  const emptiedLane = async (tenantId: string) => {
    const b = kit.keys.forTenant(tenantId);
    const lane = laneFor(tenantId, 0);
    await services.redis.hset(b.laneSeq(lane), 'seq', 3, 'head', 3);
    await services.redis.hset(b.bull(lane).meta, 'opts.maxLenEvents', 10);
    await services.redis.zadd(b.ready, Date.now(), lane);
    return { b, lane };
  };

  it('drops an empty lane and its keys', async () => {
    const { b, lane } = await emptiedLane('lc-alone');
    expect(await check('lc-alone', lane, Date.now())).toBe('idle');
    expect(await services.redis.zscore(b.ready, lane)).toBeNull();
    expect(await services.redis.exists(b.laneSeq(lane), b.laneQueue(lane), b.bull(lane).meta)).toBe(0);
  });

  it('keeps it numbered and indexed while a campaign of its bucket is enqueued, then drops it', async () => {
    const { b, lane } = await emptiedLane('lc-beside-campaign');
    await services.redis.zadd(b.enqueuing, Date.now() + 60_000, 'camp_0123456789abcdef');
    const now = Date.now();
    expect(await check('lc-beside-campaign', lane, now)).toBe('numbered');
    expect(await services.redis.exists(b.laneSeq(lane))).toBe(1);
    // Still in the index, due again after the revisit interval: a later visit will decide again.
    expect(Number(await services.redis.zscore(b.ready, lane))).toBe(now + 15_000);

    await services.redis.zrem(b.enqueuing, 'camp_0123456789abcdef');
    expect(await check('lc-beside-campaign', lane, now + 15_000)).toBe('idle');
    expect(await services.redis.zscore(b.ready, lane)).toBeNull();
    expect(await services.redis.exists(b.laneSeq(lane), b.laneQueue(lane))).toBe(0);
  });
});
