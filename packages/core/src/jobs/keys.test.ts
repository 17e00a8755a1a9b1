import { type TestServices, openServices } from '@castforge/testkit';
import { Queue } from 'bullmq';
import {
  bucketOf,
  bullPriority,
  campaignLaneFor,
  laneFor,
  lanesOf,
  parseLane,
  redisKeys,
  type BullKeyType,
} from './keys';

/** Redis Cluster's hash tag of a key: what is between the first `{` and the next `}`, if not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** Every string a value holds, however deep (the key builders return strings, functions and objects). */
function keysOf(value: unknown, sample: (fn: (...args: string[]) => unknown) => unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'function') return keysOf(sample(value as (...args: string[]) => unknown), sample);
  if (value && typeof value === 'object') return Object.values(value).flatMap((v) => keysOf(v, sample));
  return [];
}

describe('the Redis key layout (keys.ts)', () => {
  describe('bucketOf', () => {
    it('gives a tenant the same bucket every time, within range, and spreads tenants over every bucket', () => {
      const tenants = Array.from({ length: 1000 }, (_, i) => `tenant-${i}`);
      const used = new Set<number>();
      for (const tenant of tenants) {
        const bucket = bucketOf(tenant, 16);
        expect(bucket).toBe(bucketOf(tenant, 16));
        expect(bucket).toBeGreaterThanOrEqual(0);
        expect(bucket).toBeLessThan(16);
        used.add(bucket);
      }
      expect(used.size).toBe(16);
      // FNV-1a of "a" is 0xe40c292c: the value another process (or language) computes too.
      expect(bucketOf('a', 2 ** 32)).toBe(0xe40c292c);
    });
  });

  describe("a tenant's keys", () => {
    const keys = redisKeys('kt', 16);
    const tenant = 'acme';
    const b = keys.forTenant(tenant);

    it('all carry the hash tag of the tenant bucket, so one script may touch any of them (one cluster slot)', () => {
      const names = keysOf({ ...b, bucket: undefined, tag: undefined, bullPrefix: undefined }, (fn) =>
        fn(lanesOf(tenant).campaign, 'job_0123456789abcdef'),
      );
      expect(names.length).toBeGreaterThan(20);
      for (const name of names) {
        expect(name.startsWith('kt:')).toBe(true);
        expect(hashTag(name)).toBe(`b${bucketOf(tenant, 16)}`);
      }
      // Its BullMQ queues live under the same tag.
      expect(hashTag(`${b.bullPrefix}:${laneFor(tenant, 0)}:wait`)).toBe(`b${b.bucket}`);
    });

    it("name BullMQ's keys exactly as a real BullMQ Queue of the lane does", async () => {
      const services: TestServices = await openServices('keys-bull-layout');
      // Under this test's own prefix: a Queue may write its meta key when it connects.
      const mine = redisKeys(services.prefix, 16).forTenant(tenant);
      const lane = laneFor(tenant, 0);
      const queue = new Queue(lane, { connection: services.redis, prefix: mine.bullPrefix });
      try {
        const ours = mine.bull(lane);
        const theirs = queue.keys as Record<string, string>;
        for (const type of Object.keys(ours) as BullKeyType[]) {
          expect({ type, key: ours[type] }).toEqual({ type, key: theirs[type] });
        }
        expect(mine.bullJob(lane, 'job_1')).toBe(queue.toKey('job_1'));
      } finally {
        await queue.close();
        await services.close();
      }
    });

    it('keep webhook deliveries in one slot of their own, and the global keys outside any bucket', () => {
      expect(hashTag(keys.webhooks.delivery('dlv_1'))).toBe('wh');
      expect(hashTag(`${keys.webhooks.bullPrefix}:webhooks:wait`)).toBe('wh');
      for (const global of [keys.campaignSeq, keys.workers, keys.cancelChannel, keys.readyChannel]) {
        expect(global).not.toContain('{');
      }
    });

    it('are the same object for the same bucket (built once per process)', () => {
      expect(keys.forTenant(tenant)).toBe(b);
      expect(keys.allBuckets()).toHaveLength(16);
      expect(keys.allBuckets()[b.bucket]).toBe(b);
    });
  });

  describe('lanes', () => {
    it('name a tenant its three lanes and read them back', () => {
      expect(laneFor('acme', 0)).toBe('gen.acme');
      expect(laneFor('acme', 3)).toBe('gen.acme.hi');
      expect(campaignLaneFor('acme')).toBe('gen.acme.camp');
      expect(parseLane('gen.acme')).toEqual({ tenantId: 'acme', kind: 'normal' });
      expect(parseLane('gen.acme.hi')).toEqual({ tenantId: 'acme', kind: 'high' });
      expect(parseLane('gen.acme.camp')).toEqual({ tenantId: 'acme', kind: 'campaign' });
    });

    it('refuse names that are not lanes', () => {
      for (const name of [
        'webhooks',
        'gen.',
        'gen.ACME',
        'gen.acme.low',
        'gen.a:b',
        `gen.${'x'.repeat(64)}`,
      ]) {
        expect({ name, lane: parseLane(name) }).toEqual({ name, lane: null });
      }
    });

    it('map SPEC priority 10 (highest) to BullMQ priority 1 and 1 to 10', () => {
      expect(bullPriority(10)).toBe(1);
      expect(bullPriority(1)).toBe(10);
    });
  });
});
