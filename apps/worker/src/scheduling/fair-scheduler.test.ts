import { type LaneKind } from '@castforge/core';
import { type Endpoint } from '../inference/inference-backend';
import { type Lease, SchedulerClosedError, createFairScheduler } from './fair-scheduler';

const endpoints = (count: number): Endpoint[] =>
  Array.from({ length: count }, (_, index) => ({ index, url: `simulated://${index}` }));

/** Lets the promise callbacks of every grant made so far run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A scheduler plus a record of what it granted: `order` lists the labels of granted requests in the order
 * they got a slot, `held` the leases not yet given back (oldest first).
 */
function harness(endpointCount: number, perEndpoint: number) {
  const scheduler = createFairScheduler(endpoints(endpointCount), perEndpoint);
  const order: string[] = [];
  const held: { label: string; lease: Lease }[] = [];
  const running = new Map<number, number>();
  let worst = 0;

  const ask = (
    tenantId: string,
    label: string,
    options: { high?: boolean; kind?: LaneKind; signal?: AbortSignal } = {},
  ) => {
    const promise = scheduler.acquire(
      tenantId,
      options.kind ?? (options.high ? 'high' : 'normal'),
      options.signal ?? new AbortController().signal,
    );
    promise.then(
      (lease) => {
        order.push(label);
        held.push({ label, lease });
        const now = (running.get(lease.endpoint.index) ?? 0) + 1;
        running.set(lease.endpoint.index, now);
        worst = Math.max(worst, now);
      },
      () => undefined,
    );
    return promise;
  };

  /** Gives back the oldest lease still held and lets the next grant happen. */
  const releaseOldest = async () => {
    const next = held.shift();
    if (!next) throw new Error('no lease is held');
    running.set(next.lease.endpoint.index, running.get(next.lease.endpoint.index)! - 1);
    next.lease.release();
    await settle();
  };

  return { scheduler, order, held, ask, releaseOldest, worstPerEndpoint: () => worst };
}

describe('createFairScheduler', () => {
  describe('slots', () => {
    it('never runs more than perEndpoint jobs at once on any endpoint', async () => {
      const h = harness(2, 2);
      for (let i = 0; i < 30; i++) void h.ask(`tenant-${i % 3}`, `job-${i}`);
      await settle();
      expect(h.scheduler.busy()).toBe(4);
      expect(h.scheduler.waitingCount()).toBe(26);
      while (h.held.length) await h.releaseOldest();
      expect(h.order).toHaveLength(30);
      expect(h.worstPerEndpoint()).toBe(2);
      expect(h.scheduler.maxInFlightSeen()).toEqual([2, 2]);
      expect(h.scheduler.busy()).toBe(0);
      expect(h.scheduler.waitingCount()).toBe(0);
    });

    it('reports its slot count as endpoints × perEndpoint', () => {
      expect(createFairScheduler(endpoints(3), 2).slots).toBe(6);
    });

    it('puts each new job on the least busy endpoint', async () => {
      const { scheduler } = harness(2, 2);
      const leases = await Promise.all([
        scheduler.acquire('a', 'normal', new AbortController().signal),
        scheduler.acquire('a', 'normal', new AbortController().signal),
      ]);
      expect(leases.map((lease) => lease.endpoint.index).sort()).toEqual([0, 1]);
      leases[0].release();
      const third = await scheduler.acquire('a', 'normal', new AbortController().signal);
      expect(third.endpoint.index).toBe(leases[0].endpoint.index);
    });

    it('frees one slot only, however many times a lease is released', async () => {
      const h = harness(1, 1);
      const first = await h.ask('a', 'a1');
      void h.ask('a', 'a2');
      void h.ask('a', 'a3');
      await settle();
      first.release();
      first.release();
      await settle();
      expect(h.order).toEqual(['a1', 'a2']);
      expect(h.scheduler.busy()).toBe(1);
      expect(h.scheduler.maxInFlightSeen()).toEqual([1]);
    });

    it('reports the most jobs ever in flight at each endpoint, which does not fall when jobs end', async () => {
      const h = harness(2, 3);
      for (let i = 0; i < 4; i++) void h.ask('a', `a${i}`);
      await settle();
      expect(h.scheduler.maxInFlightSeen()).toEqual([2, 2]);
      while (h.held.length) await h.releaseOldest();
      expect(h.scheduler.maxInFlightSeen()).toEqual([2, 2]);
      for (let i = 0; i < 7; i++) void h.ask('a', `b${i}`);
      await settle();
      expect(h.scheduler.maxInFlightSeen()).toEqual([3, 3]);
      expect(h.scheduler.waitingCount()).toBe(1);
    });

    it('returns a copy of maxInFlightSeen that callers cannot change', () => {
      const scheduler = createFairScheduler(endpoints(1), 1);
      scheduler.maxInFlightSeen()[0] = 99;
      expect(scheduler.maxInFlightSeen()).toEqual([0]);
    });
  });

  describe('fair share between tenants', () => {
    it('gives the next free slot to a tenant that arrives behind another tenant’s 50 waiting jobs', async () => {
      const h = harness(1, 1);
      for (let i = 0; i < 50; i++) void h.ask('big', `big-${i}`);
      await settle();
      void h.ask('small', 'small');
      await settle();
      const grantsBefore = h.order.length;
      await h.releaseOldest();
      await h.releaseOldest();
      expect(h.order.slice(grantsBefore)).toContain('small');
      expect(h.order.indexOf('small') - grantsBefore).toBeLessThan(2);
    });

    it('does the same with several slots busy with the big tenant', async () => {
      const h = harness(2, 2);
      for (let i = 0; i < 50; i++) void h.ask('big', `big-${i}`);
      await settle();
      void h.ask('small', 'small');
      await settle();
      expect(h.order).not.toContain('small');
      await h.releaseOldest();
      expect(h.order.at(-1)).toBe('small');
    });

    it('takes turns between two tenants that both have a backlog', async () => {
      const h = harness(1, 1);
      for (let i = 1; i <= 5; i++) void h.ask('a', `a${i}`);
      for (let i = 1; i <= 5; i++) void h.ask('b', `b${i}`);
      await settle();
      while (h.held.length) await h.releaseOldest();
      expect(h.order).toEqual(['a1', 'b1', 'a2', 'b2', 'a3', 'b3', 'a4', 'b4', 'a5', 'b5']);
    });

    it('serves three tenants round-robin, least recently served first', async () => {
      const h = harness(1, 1);
      void h.ask('a', 'a1');
      await settle();
      for (const tenant of ['a', 'b', 'c']) for (let i = 2; i <= 3; i++) void h.ask(tenant, `${tenant}${i}`);
      await settle();
      while (h.held.length) await h.releaseOldest();
      expect(h.order).toEqual(['a1', 'b2', 'c2', 'a2', 'b3', 'c3', 'a3']);
    });

    it("does not let one tenant's priority jobs jump ahead of another tenant", async () => {
      const h = harness(1, 1);
      void h.ask('a', 'a-normal');
      await settle();
      for (let i = 1; i <= 3; i++) void h.ask('a', `a-high${i}`, { high: true });
      for (let i = 1; i <= 2; i++) void h.ask('b', `b${i}`);
      await settle();
      while (h.held.length) await h.releaseOldest();
      expect(h.order).toEqual(['a-normal', 'b1', 'a-high1', 'b2', 'a-high2', 'a-high3']);
    });
  });

  describe('order within a tenant', () => {
    it("serves a tenant's priority lane before its normal lane", async () => {
      const h = harness(1, 1);
      void h.ask('a', 'running');
      await settle();
      void h.ask('a', 'normal1');
      void h.ask('a', 'normal2');
      void h.ask('a', 'high1', { high: true });
      void h.ask('a', 'high2', { high: true });
      await settle();
      while (h.held.length) await h.releaseOldest();
      expect(h.order).toEqual(['running', 'high1', 'high2', 'normal1', 'normal2']);
    });

    it('serves each lane first come, first served', async () => {
      const h = harness(1, 1);
      const labels = Array.from({ length: 8 }, (_, i) => `job-${i}`);
      for (const label of labels) void h.ask('a', label);
      await settle();
      while (h.held.length) await h.releaseOldest();
      expect(h.order).toEqual(labels);
    });
  });

  describe('abort', () => {
    it('removes a waiting job whose signal aborts and rejects it with the reason', async () => {
      const h = harness(1, 1);
      void h.ask('a', 'running');
      const controller = new AbortController();
      const aborted = h.ask('a', 'aborted', { signal: controller.signal });
      void h.ask('a', 'next');
      await settle();
      expect(h.scheduler.waitingCount()).toBe(2);

      const reason = new Error('cancelled by the user');
      controller.abort(reason);
      await expect(aborted).rejects.toBe(reason);
      expect(h.scheduler.waitingCount()).toBe(1);
      await h.releaseOldest();
      expect(h.order).toEqual(['running', 'next']);
      expect(h.scheduler.busy()).toBe(1);
    });

    it('forgets a tenant whose only waiting job aborts, so it does not block other tenants', async () => {
      const h = harness(1, 1);
      void h.ask('a', 'running');
      const controller = new AbortController();
      void h.ask('b', 'aborted', { signal: controller.signal });
      void h.ask('c', 'c1');
      await settle();
      controller.abort(new Error('gone'));
      await settle();
      await h.releaseOldest();
      expect(h.order).toEqual(['running', 'c1']);
      expect(h.scheduler.waitingCount()).toBe(0);
    });

    it('refuses at once a job whose signal has already aborted, taking no slot', async () => {
      const { scheduler } = harness(1, 1);
      const reason = new Error('too late');
      await expect(scheduler.acquire('a', 'normal', AbortSignal.abort(reason))).rejects.toBe(reason);
      expect([scheduler.busy(), scheduler.waitingCount()]).toEqual([0, 0]);
    });

    it('keeps a lease that was granted before the signal aborted', async () => {
      const h = harness(1, 1);
      const controller = new AbortController();
      const lease = await h.ask('a', 'granted', { signal: controller.signal });
      controller.abort(new Error('after the grant'));
      void h.ask('a', 'waiting');
      await settle();
      expect(h.scheduler.busy()).toBe(1);
      expect(h.order).toEqual(['granted']);
      lease.release();
      await settle();
      expect(h.order).toEqual(['granted', 'waiting']);
    });
  });

  describe('close', () => {
    it('rejects every waiting job with SchedulerClosedError and refuses new ones', async () => {
      const h = harness(1, 1);
      const running = await h.ask('a', 'running');
      const waiting = [h.ask('a', 'w1'), h.ask('b', 'w2', { high: true })];
      await settle();
      h.scheduler.close();
      for (const promise of waiting) await expect(promise).rejects.toBeInstanceOf(SchedulerClosedError);
      expect(h.scheduler.waitingCount()).toBe(0);
      await expect(h.scheduler.acquire('c', 'normal', new AbortController().signal)).rejects.toBeInstanceOf(
        SchedulerClosedError,
      );

      running.release();
      await settle();
      expect(h.scheduler.busy()).toBe(0);
      expect(h.order).toEqual(['running']);
    });
  });
});

describe('createFairScheduler within a tenant: its priority lane first, then its single jobs and campaigns take turns', () => {
  /** A label's lane is its first letter after any "<tenant>:": h → high, c → campaign, else normal. */
  const kindOf = (label: string): LaneKind => {
    const name = label.slice(label.indexOf(':') + 1);
    return name.startsWith('h') ? 'high' : name.startsWith('c') ? 'campaign' : 'normal';
  };
  const askAll = (h: ReturnType<typeof harness>, tenantId: string, labels: string[]) => {
    for (const label of labels) void h.ask(tenantId, label, { kind: kindOf(label) });
  };
  const drain = async (h: ReturnType<typeof harness>) => {
    while (h.held.length) await h.releaseOldest();
  };

  it('serves priority jobs first, then alternates single jobs and campaign jobs while both wait', async () => {
    const h = harness(1, 1);
    void h.ask('a', 'running');
    await settle();
    askAll(h, 'a', ['c1', 'c2', 'c3', 'n1', 'n2', 'n3', 'h1', 'h2']);
    await settle();
    await drain(h);
    expect(h.order.slice(0, 3)).toEqual(['running', 'h1', 'h2']);
    const rest = h.order.slice(3);
    expect(rest).toHaveLength(6);
    // Strict alternation, whichever lane's turn it happened to be; each lane first come, first served.
    for (let i = 1; i < rest.length; i++) expect(kindOf(rest[i]!)).not.toBe(kindOf(rest[i - 1]!));
    expect(rest.filter((l) => kindOf(l) === 'normal')).toEqual(['n1', 'n2', 'n3']);
    expect(rest.filter((l) => kindOf(l) === 'campaign')).toEqual(['c1', 'c2', 'c3']);
  });

  it.each([1, 2, 3])(
    'gives a single job the very next slot after %i campaign job(s) had the GPU to themselves',
    async (streak) => {
      const h = harness(1, 1);
      askAll(h, 'a', ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
      await settle();
      for (let i = 1; i < streak; i++) await h.releaseOldest();
      expect(h.order).toEqual(['c1', 'c2', 'c3'].slice(0, streak));
      void h.ask('a', 'n1', { kind: 'normal' });
      await settle();
      await h.releaseOldest();
      expect(h.order.at(-1)).toBe('n1');
    },
  );

  it.each([1, 2, 3])(
    'gives a campaign job the very next slot after %i single job(s) had the GPU to themselves',
    async (streak) => {
      const h = harness(1, 1);
      askAll(h, 'a', ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
      await settle();
      for (let i = 1; i < streak; i++) await h.releaseOldest();
      void h.ask('a', 'c1', { kind: 'campaign' });
      await settle();
      await h.releaseOldest();
      expect(h.order.at(-1)).toBe('c1');
    },
  );

  it('runs campaign jobs back to back when no single job waits, leaving no slot idle for a turn', async () => {
    const h = harness(1, 1);
    askAll(h, 'a', ['c1', 'c2', 'c3', 'c4']);
    await settle();
    for (let i = 0; i < 3; i++) {
      expect(h.scheduler.busy()).toBe(1);
      await h.releaseOldest();
    }
    await drain(h);
    expect(h.order).toEqual(['c1', 'c2', 'c3', 'c4']);
  });

  it('puts a priority job that arrives behind a campaign backlog and single jobs ahead of both', async () => {
    const h = harness(1, 1);
    askAll(h, 'a', ['c1', 'c2', 'c3', 'n1', 'n2']);
    await settle();
    void h.ask('a', 'h1', { kind: 'high' });
    await settle();
    await h.releaseOldest();
    expect(h.order).toEqual(['c1', 'h1']);
  });

  it("does not let a tenant's single jobs and campaign together take more turns than another tenant", async () => {
    const h = harness(1, 1);
    askAll(h, 'a', ['a:c1', 'a:c2', 'a:c3', 'a:n1', 'a:n2', 'a:n3']);
    askAll(h, 'b', ['b:c1', 'b:c2', 'b:c3']);
    await settle();
    await drain(h);
    // Tenants alternate while both wait; tenant a's turns alternate between its two lanes.
    expect(h.order.slice(0, 6).map((l) => l[0])).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    const turnsOfA = h.order.filter((l) => l.startsWith('a:'));
    for (let i = 1; i < turnsOfA.length; i++) expect(kindOf(turnsOfA[i]!)).not.toBe(kindOf(turnsOfA[i - 1]!));
    expect(h.order).toHaveLength(9);
  });
});
