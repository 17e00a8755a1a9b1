import { type TestServices, openServices } from '@castforge/testkit';
import { type JobStoreKit, jobStoreKit } from '@castforge/testkit/job-store';
import { type JobRef } from './job-store';

/**
 * Campaign jobs in the job store: they have no record until they start (their status is derived from their
 * campaign), and every transition moves their campaign's counts in the same script, down to "campaign done"
 * exactly once. Against the real Redis.
 */
describe('the job store: campaign jobs', () => {
  let services: TestServices;
  let kit: JobStoreKit;
  beforeAll(async () => {
    services = await openServices('job-store-campaigns');
    kit = jobStoreKit(services.redis, services.prefix);
  });
  afterAll(async () => {
    await kit.close();
    await services.close();
  });

  const b = (tenantId: string) => kit.keys.forTenant(tenantId);
  const ref = (tenantId: string, jobId: string): JobRef => kit.store.refOf(tenantId, jobId);
  const read = async (tenantId: string, jobId: string) => {
    const record = await kit.store.read(tenantId, jobId);
    if (!record) throw new Error(`job ${jobId} of ${tenantId} not found`);
    return record;
  };
  const start = (tenantId: string, jobId: string) =>
    kit.store.start(ref(tenantId, jobId), { prompt: 'a scene', seed: 5 });
  const counts = async (tenantId: string, campaignId: string) => {
    const live = await kit.state.read(tenantId, campaignId);
    if (!live) throw new Error(`campaign ${campaignId} is not live`);
    return { ...live.counts, done: live.done };
  };
  const outbox = async (tenantId: string) =>
    (await services.redis.xrange(b(tenantId).outbox, '-', '+')).map(([, fields]) => {
      const map: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
      return map;
    });
  const failed = {
    error: 'the profile version could not be read',
    failure_reason_code: 'INPUT_INVALID' as const,
  };

  it('reads a waiting job from its campaign (no record), with its queue position, and only for its tenant', async () => {
    const tenant = 'camp-read';
    const { campaignId, jobIds } = await kit.campaign(tenant, 3, { metadata: { brief: 'B1' } });
    expect(await services.redis.exists(b(tenant).job(jobIds[2]!))).toBe(0);
    expect(await read(tenant, jobIds[2]!)).toMatchObject({
      status: 'queued',
      campaignId,
      campaignIndex: 2,
      profileId: 'prof_0123456789abcdef',
      profileVersion: 1,
      metadata: { brief: 'B1' },
      ahead: 2,
      expired: false,
    });
    // A job of the tenant's priority lane goes first, so it is ahead of every campaign job.
    await kit.submit(tenant, { priority: 5 });
    expect((await read(tenant, jobIds[0]!)).ahead).toBe(1);
    // Job 0 starting moves the lane's head: job 2 has one job fewer ahead.
    await start(tenant, jobIds[0]!);
    expect((await read(tenant, jobIds[2]!)).ahead).toBe(2);

    expect(await kit.store.read('camp-read-intruder', jobIds[1]!)).toBeNull();
    // An index past the campaign's end is no job at all.
    const beyond = kit.state.jobIds(campaignId, 3, 1)[0]!;
    expect(await kit.store.read(tenant, beyond)).toBeNull();
  });

  it('START gives a job its record and moves its campaign counts; the last FINISH says "campaign done" once', async () => {
    const tenant = 'camp-life';
    const { campaignId, jobIds } = await kit.campaign(tenant, 2, { sealedCallbackUrl: 'v1.campaign-url' });
    expect(await kit.store.inFlight(tenant)).toBe(2);
    expect(await start(tenant, jobIds[0]!)).toMatchObject({ kind: 'started', attempts: 1 });
    expect(await services.redis.hget(b(tenant).job(jobIds[0]!), 'campaign_id')).toBe(campaignId);
    expect(await counts(tenant, campaignId)).toMatchObject({ queued: 1, processing: 1, done: false });
    expect(
      await services.redis.zscore(b(tenant).campaignByStatus(campaignId, 'processing'), jobIds[0]!),
    ).toBe('0');

    expect(await kit.store.finish(ref(tenant, jobIds[0]!), 'completed', {})).toEqual({
      changed: true,
      previous: 'processing',
      campaignDone: false,
    });
    await start(tenant, jobIds[1]!);
    expect(await kit.store.finish(ref(tenant, jobIds[1]!), 'completed', {})).toEqual({
      changed: true,
      previous: 'processing',
      campaignDone: true,
    });
    expect(await counts(tenant, campaignId)).toMatchObject({
      queued: 0,
      processing: 0,
      completed: 2,
      done: true,
    });
    expect(await kit.store.inFlight(tenant)).toBe(0);
    // Forgotten after the retention, not before.
    const forgetAt = Number(await services.redis.zscore(b(tenant).campaigns, campaignId));
    expect(forgetAt).toBeGreaterThan(Date.now());

    // The outbox: each job's event (the URL is the campaign's, read at delivery) and the campaign's ending, once.
    expect(await outbox(tenant)).toEqual([
      { k: 'j', id: jobIds[0], ev: 'completed', t: tenant, c: campaignId },
      { k: 'j', id: jobIds[1], ev: 'completed', t: tenant, c: campaignId },
      { k: 'c', id: campaignId, t: tenant },
    ]);
    expect(await kit.store.finish(ref(tenant, jobIds[1]!), 'failed', failed)).toMatchObject({
      changed: false,
      campaignDone: false,
    });
    expect((await outbox(tenant)).filter((e) => e.k === 'c')).toHaveLength(1);
  });

  it('a job that fails before it started gets its record, is counted failed, and can end its campaign (issue 8, defect 2)', async () => {
    // Old code: FINISH of a campaign job without a record did nothing unless it was a cancel, so a plan()
    // failure lost the job from its campaign's counts and the campaign stayed running forever.
    const tenant = 'camp-early-fail';
    const { campaignId, jobIds } = await kit.campaign(tenant, 2);
    await start(tenant, jobIds[0]!);
    await kit.store.finish(ref(tenant, jobIds[0]!), 'completed', {});

    const ended = await kit.store.finish(ref(tenant, jobIds[1]!), 'failed', failed);
    expect(ended).toEqual({ changed: true, previous: 'queued', campaignDone: true });
    expect(await read(tenant, jobIds[1]!)).toMatchObject({
      status: 'failed',
      campaignId,
      campaignIndex: 1,
      failureReasonCode: 'INPUT_INVALID',
      attempts: 0,
    });
    expect(await counts(tenant, campaignId)).toMatchObject({
      queued: 0,
      completed: 1,
      failed: 1,
      done: true,
    });
    expect(await kit.store.inFlight(tenant)).toBe(0);
    expect(await outbox(tenant)).toEqual([{ k: 'c', id: campaignId, t: tenant }]);
    // A worker reaching it later does not run it.
    expect(await start(tenant, jobIds[1]!)).toEqual({ kind: 'terminal', status: 'failed' });
  });

  it('a "completed" for a job that never started changes nothing', async () => {
    const tenant = 'camp-no-start';
    const { campaignId, jobIds } = await kit.campaign(tenant, 1);
    expect(await kit.store.finish(ref(tenant, jobIds[0]!), 'completed', {})).toMatchObject({
      changed: false,
    });
    expect(await counts(tenant, campaignId)).toMatchObject({ queued: 1, completed: 0, done: false });
    expect(await services.redis.exists(b(tenant).job(jobIds[0]!))).toBe(0);
  });

  it("after an ended job's record expires, it still reads as ended and a cancel changes nothing (issue 8, defect 3)", async () => {
    // Old code: the status fell back to "queued" once the record expired, and a cancel then counted the job
    // a second time and could finalize the campaign early.
    const tenant = 'camp-expired';
    const { campaignId, jobIds } = await kit.campaign(tenant, 2);
    await start(tenant, jobIds[0]!);
    await kit.store.finish(ref(tenant, jobIds[0]!), 'completed', {});
    const before = await counts(tenant, campaignId);
    await services.redis.del(b(tenant).job(jobIds[0]!)); // its retention ran out

    expect(await read(tenant, jobIds[0]!)).toMatchObject({ status: 'completed', expired: true, ahead: null });
    expect(await kit.store.cancel(tenant, jobIds[0]!)).toEqual({
      changed: false,
      previous: 'completed',
      campaignDone: false,
    });
    expect(await kit.store.finish(ref(tenant, jobIds[0]!), 'failed', failed)).toMatchObject({
      changed: false,
    });
    expect(await start(tenant, jobIds[0]!)).toEqual({ kind: 'terminal', status: 'completed' });
    expect(await counts(tenant, campaignId)).toEqual(before);
    expect(await services.redis.exists(b(tenant).job(jobIds[0]!))).toBe(0);
    expect(await kit.store.inFlight(tenant)).toBe(1);
  });

  it('cancelling one waiting job gives it a record and counts it once', async () => {
    const tenant = 'camp-cancel-one';
    const { campaignId, jobIds } = await kit.campaign(tenant, 2);
    expect(await kit.store.cancel(tenant, jobIds[1]!)).toEqual({
      changed: true,
      previous: 'queued',
      campaignDone: false,
    });
    expect(await kit.store.cancel(tenant, jobIds[1]!)).toMatchObject({
      changed: false,
      previous: 'cancelled',
    });
    expect(await counts(tenant, campaignId)).toMatchObject({ queued: 1, cancelled: 1, done: false });
    expect(await kit.store.cancel('camp-cancel-intruder', jobIds[0]!)).toMatchObject({ changed: false });
    expect(await kit.store.inFlight(tenant)).toBe(1);
  });

  it('cancelling the campaign ends its waiting and running jobs at once, and says "campaign done" once', async () => {
    const tenant = 'camp-cancel-all';
    const { campaignId, jobIds } = await kit.campaign(tenant, 4, { sealedCallbackUrl: 'v1.campaign-url' });
    await start(tenant, jobIds[0]!);
    await kit.store.finish(ref(tenant, jobIds[0]!), 'completed', {});
    await start(tenant, jobIds[1]!);

    const outcome = await kit.state.cancel(tenant, campaignId);
    expect(outcome).toEqual({ outcome: 'cancelled', waiting: 2, done: true, jobIds: [jobIds[1]] });
    expect(await counts(tenant, campaignId)).toMatchObject({
      queued: 0,
      processing: 0,
      completed: 1,
      cancelled: 3,
      done: true,
    });
    expect((await read(tenant, jobIds[3]!)).status).toBe('cancelled');
    expect(await start(tenant, jobIds[3]!)).toEqual({ kind: 'terminal', status: 'cancelled' });
    expect(await kit.store.inFlight(tenant)).toBe(0);
    // The running job's cancel event and the campaign's ending; the waiting ones are summed in the latter.
    const entries = await outbox(tenant);
    expect(entries.filter((e) => e.ev === 'cancelled')).toEqual([
      { k: 'j', id: jobIds[1], ev: 'cancelled', t: tenant, c: campaignId },
    ]);
    expect(entries.filter((e) => e.k === 'c')).toEqual([{ k: 'c', id: campaignId, t: tenant }]);
    expect((await kit.state.cancel(tenant, campaignId)).outcome).toBe('ended');
    // The worker that was running job 1 ends it later: nothing moves.
    expect(await kit.store.finish(ref(tenant, jobIds[1]!), 'completed', {})).toMatchObject({
      changed: false,
    });
    expect((await outbox(tenant)).filter((e) => e.k === 'c')).toHaveLength(1);
  });
});
