/**
 * Webhooks a production receiver can trust (SPEC §6, issue #4): a receiver on loopback verifies every event
 * with the README's own `verifyWebhook` and the secret from GET /webhooks/v1/secret, for jobs that complete,
 * fail (rejected by the backend, or out of time) and are cancelled; each body has SPEC §6's fields and fits
 * GET /webhooks/event-schema. Then a secret rotation: two signatures during the overlap, one after it.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import {
  type ReceivedWebhook,
  type WebhookReceiver,
  readmeVerifyWebhook,
  startReceiver,
} from '@castforge/testkit/webhook-receiver';
import { type Delivery, JobEvent, type JobStatus } from '@castforge/schemas';
import request from 'supertest';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };
/** The body fields SPEC §6 shows, and the two the project adds (ext). */
const SPEC_FIELDS = [
  'job_id',
  'tenant_id',
  'status',
  'result_url',
  'result_mime_type',
  'result_size_bytes',
  'timestamp',
  'error',
  'failure_reason_code',
  'retryable',
  'metadata',
];
const EXT_FIELDS = ['event', 'campaign_id'];

type Json = Record<string, unknown>;

/** The JSON types a JSON Schema (draft 2020-12, as zod writes it) admits for one property. */
function admittedTypes(schema: Json): Set<string> {
  const types = new Set<string>();
  const add = (s: Json) => {
    if (typeof s.type === 'string') types.add(s.type);
    if (Array.isArray(s.type)) (s.type as string[]).forEach((t) => types.add(t));
    if ('const' in s) types.add(s.const === null ? 'null' : typeof s.const);
    if (Array.isArray(s.enum))
      (s.enum as unknown[]).forEach((v) => types.add(v === null ? 'null' : typeof v));
    for (const key of ['anyOf', 'oneOf'] as const) if (Array.isArray(s[key])) (s[key] as Json[]).forEach(add);
  };
  add(schema);
  if (types.has('integer')) types.add('number');
  return types;
}
/** The object schema itself, following a top-level `$ref` into `$defs` as zod writes it. */
function eventObjectSchema(document: Json): Json {
  const ref = document.$ref;
  if (typeof ref !== 'string') return document;
  const name = /^#\/\$defs\/(.+)$/.exec(ref)?.[1];
  const target = name ? (document.$defs as Record<string, Json> | undefined)?.[name] : undefined;
  if (!target) throw new Error(`unresolvable $ref ${ref}`);
  return target;
}
const jsonType = (value: unknown) =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'array'
      : typeof value === 'object'
        ? 'object'
        : typeof value;

describe('webhook events as a receiver sees them', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let receiver: WebhookReceiver;
  const verifyWebhook = readmeVerifyWebhook();

  beforeAll(async () => {
    api = await startApi('story-webhook-events', { ...LOOPBACK, JOB_ATTEMPTS: '1' });
    worker = await startWorker(
      api.services,
      { ...LOOPBACK, JOB_TIMEOUT_SECONDS: '2', INFERENCE_CONCURRENCY: '4', WEBHOOK_RETRY_DELAYS: '0.2' },
      { backend: scriptedBackend().backend },
    );
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await worker.close();
    await api.close();
  });

  const client = (key: string) => ({
    secret: async () => {
      const res = await request(api.server).get('/webhooks/v1/secret').set('X-API-Key', key);
      expect(res.status).toBe(200);
      return res.body as { secret: string; created_at: string; previous_secret_expires_at: string | null };
    },
    submit: async (body: Json) => {
      const res = await request(api.server)
        .post('/generate/image/v1')
        .set('X-API-Key', key)
        .send({ width: 64, height: 64, num_inference_steps: 2, output_format: 'png', ...body });
      expect(res.status).toBe(202);
      return res.body.job_id as string;
    },
    status: async (jobId: string) =>
      (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
        .body as JobStatus,
    deliveries: async (jobId: string) => {
      const res = await request(api.server)
        .get(`/webhooks/v1/deliveries?job_id=${jobId}`)
        .set('X-API-Key', key);
      expect(res.status).toBe(200);
      return (res.body as { deliveries: Delivery[] }).deliveries;
    },
    redeliver: (deliveryId: string) =>
      request(api.server).post(`/webhooks/v1/deliveries/${deliveryId}/redeliver`).set('X-API-Key', key),
  });

  /** The requests the receiver got for this job, waiting until there are `count`. */
  const eventsOf = (jobId: string, count = 1) =>
    waitFor(
      () => {
        const found = receiver.received.filter((r) => r.body.includes(`"job_id":"${jobId}"`));
        return found.length >= count && found;
      },
      { timeoutMs: 15_000, what: `${count} webhook(s) for ${jobId}` },
    );

  /** What every event must satisfy: a fresh Standard Webhooks signature, SPEC §6 fields, the schema. */
  const expectTrustworthy = (hook: ReceivedWebhook, secret: string): JobEvent => {
    expect(hook.method).toBe('POST');
    expect(hook.headers['content-type']).toMatch(/^application\/json/);
    expect(hook.headers['webhook-id']).toMatch(/^msg_/);
    expect(Math.abs(Number(hook.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(verifyWebhook(secret, hook.headers, hook.body)).toBe(true);
    const body = JSON.parse(hook.body) as Json;
    expect(Object.keys(body).sort()).toEqual([...SPEC_FIELDS, ...EXT_FIELDS].sort());
    return JobEvent.parse(body);
  };

  it('signs a completed job so that the README snippet verifies it, with the result link, size and metadata', async () => {
    const tenant = 'evt-completed';
    const key = await api.keyFor(tenant);
    const c = client(key);
    const { secret } = await c.secret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const submittedAt = Date.now();
    const jobId = await c.submit({
      prompt: 'a lighthouse at dusk',
      metadata: { order: 'A-17', tags: ['x'] },
      callback_url: receiver.url('/hooks/castforge?token=evt-1'),
    });

    const [hook] = await eventsOf(jobId);
    expect(hook!.url).toBe('/hooks/castforge?token=evt-1');
    const event = expectTrustworthy(hook!, secret);
    const status = await c.status(jobId);
    expect(event).toEqual({
      event: 'job.completed',
      job_id: jobId,
      tenant_id: tenant,
      campaign_id: null,
      status: 'completed',
      result_url: expect.any(String),
      result_mime_type: 'image/png',
      result_size_bytes: expect.any(Number),
      timestamp: Math.floor(Date.parse(status.finished_at!) / 1000),
      error: null,
      failure_reason_code: null,
      retryable: null,
      metadata: { order: 'A-17', tags: ['x'] },
    });
    expect(event.timestamp).toBeGreaterThanOrEqual(Math.floor(submittedAt / 1000));
    expect(event.timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));

    // The link in the event is the job's signed result: it serves exactly the bytes announced.
    const link = new URL(event.result_url!);
    const image = await request(api.server).get(`${link.pathname}${link.search}`).buffer(true);
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe(event.result_mime_type);
    expect((image.body as Buffer).length).toBe(event.result_size_bytes);
  });

  it('does not verify with another secret, a changed body, or a stale timestamp (the check is not vacuous)', async () => {
    const key = await api.keyFor('evt-tamper');
    const c = client(key);
    const { secret } = await c.secret();
    const other = (await client(await api.keyFor('evt-tamper-other')).secret()).secret;
    const jobId = await c.submit({ prompt: 'a red kite', callback_url: receiver.url('/t') });
    const [hook] = await eventsOf(jobId);

    expect(verifyWebhook(secret, hook!.headers, hook!.body)).toBe(true);
    expect(verifyWebhook(other, hook!.headers, hook!.body)).toBe(false);
    expect(verifyWebhook(secret, hook!.headers, hook!.body.replace('"completed"', '"failed"'))).toBe(false);
    const stale = { ...hook!.headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600) };
    expect(verifyWebhook(secret, stale, hook!.body)).toBe(false);
  });

  it('signs a job the backend rejected as failed, with its error, INPUT_INVALID and retryable false', async () => {
    const tenant = 'evt-failed';
    const key = await api.keyFor(tenant);
    const c = client(key);
    const { secret } = await c.secret();
    const jobId = await c.submit({ prompt: 'reject this scene', callback_url: receiver.url('/h?k=2') });

    const [hook] = await eventsOf(jobId);
    const event = expectTrustworthy(hook!, secret);
    expect(event).toMatchObject({
      event: 'job.failed',
      job_id: jobId,
      tenant_id: tenant,
      status: 'failed',
      result_url: null,
      result_mime_type: null,
      result_size_bytes: null,
      error: expect.stringMatching(/rejected/),
      failure_reason_code: 'INPUT_INVALID',
      retryable: false,
      metadata: null,
    });
    const status = await c.status(jobId);
    expect(event).toMatchObject({
      error: status.error,
      timestamp: Math.floor(Date.parse(status.finished_at!) / 1000),
    });
  });

  it('signs a job that ran out of time as failed, with TIMEOUT and retryable true', async () => {
    const key = await api.keyFor('evt-timeout');
    const c = client(key);
    const { secret } = await c.secret();
    const jobId = await c.submit({
      prompt: 'hold until the budget runs out',
      callback_url: receiver.url('/h'),
    });

    const [hook] = await eventsOf(jobId);
    const event = expectTrustworthy(hook!, secret);
    expect(event).toMatchObject({
      event: 'job.failed',
      status: 'failed',
      result_url: null,
      error: expect.any(String),
      failure_reason_code: 'TIMEOUT',
      retryable: true,
    });
  });

  it('signs a job cancelled while running as cancelled (ext), exactly once', async () => {
    const tenant = 'evt-cancelled';
    const key = await api.keyFor(tenant);
    const c = client(key);
    const { secret } = await c.secret();
    const jobId = await c.submit({
      prompt: 'hold until cancelled',
      metadata: { shot: 3 },
      callback_url: receiver.url('/h'),
    });
    await waitFor(async () => (await c.status(jobId)).status === 'processing', { what: 'the job to start' });
    const cancel = await request(api.server).post(`/generate/image/v1/cancel/${jobId}`).set('X-API-Key', key);
    expect(cancel.status).toBe(202);

    const [hook] = await eventsOf(jobId);
    const event = expectTrustworthy(hook!, secret);
    expect(event).toMatchObject({
      event: 'job.cancelled',
      job_id: jobId,
      tenant_id: tenant,
      status: 'cancelled',
      result_url: null,
      result_mime_type: null,
      result_size_bytes: null,
      error: expect.any(String),
      failure_reason_code: 'CANCELLED',
      retryable: false,
      metadata: { shot: 3 },
    });
    // A later job's event has arrived, so the worker has long let go of the cancelled one: still one event.
    const later = await c.submit({ prompt: 'a later scene', callback_url: receiver.url('/h') });
    await eventsOf(later);
    expect(receiver.received.filter((r) => r.body.includes(jobId))).toHaveLength(1);
    expect(await c.deliveries(jobId)).toEqual([expect.objectContaining({ status: 'delivered' })]);
  });

  it('publishes the event JSON Schema at GET /webhooks/event-schema, requiring every SPEC §6 field', async () => {
    const key = await api.keyFor('evt-schema');
    const res = await request(api.server).get('/webhooks/event-schema').set('X-API-Key', key);
    expect(res.status).toBe(200);
    expect(res.body.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const schema = eventObjectSchema(res.body as Json);
    expect(schema.type).toBe('object');
    const properties = schema.properties as Record<string, Json>;
    const required = schema.required as string[];
    expect(Object.keys(properties).sort()).toEqual([...SPEC_FIELDS, ...EXT_FIELDS].sort());
    expect(required).toEqual(expect.arrayContaining(SPEC_FIELDS));
    expect(admittedTypes(properties.status!)).toEqual(new Set(['string']));
    expect(properties.status!.enum).toEqual(['completed', 'failed', 'cancelled']);
    expect(admittedTypes(properties.timestamp!)).toEqual(new Set(['integer', 'number']));
    for (const nullable of ['result_url', 'error', 'failure_reason_code', 'retryable', 'metadata'])
      expect(admittedTypes(properties[nullable]!)).toContain('null');
    expect((await request(api.server).get('/webhooks/event-schema')).status).toBe(401);
  });

  it('sends bodies that fit the published JSON Schema: every field known, required ones present, types admitted', async () => {
    const key = await api.keyFor('evt-fit');
    const c = client(key);
    const schema = eventObjectSchema(
      (await request(api.server).get('/webhooks/event-schema').set('X-API-Key', key)).body as Json,
    );
    const properties = schema.properties as Record<string, Json>;
    const completed = await c.submit({ prompt: 'a quiet pier', callback_url: receiver.url('/fit') });
    const failed = await c.submit({ prompt: 'reject the pier', callback_url: receiver.url('/fit') });
    const hooks = [...(await eventsOf(completed)), ...(await eventsOf(failed))];

    for (const hook of hooks) {
      const body = JSON.parse(hook.body) as Json;
      for (const field of schema.required as string[]) expect(body).toHaveProperty(field);
      for (const [field, value] of Object.entries(body)) {
        expect(properties).toHaveProperty(field);
        expect([field, admittedTypes(properties[field]!).has(jsonType(value))]).toEqual([field, true]);
      }
    }
  });

  describe('after POST /webhooks/v1/secret/rotate', () => {
    it('signs with both secrets during the overlap, so receivers on either verify, then with the new one only', async () => {
      const tenant = 'evt-rotation';
      const key = await api.keyFor(tenant);
      const c = client(key);
      const old = (await c.secret()).secret;
      const rotated = await request(api.server).post('/webhooks/v1/secret/rotate').set('X-API-Key', key);
      expect(rotated.status).toBe(200);
      const fresh = (rotated.body as { secret: string }).secret;
      expect(fresh).not.toBe(old);
      const overlapEnds = Date.parse(rotated.body.previous_secret_expires_at as string);
      expect(overlapEnds - Date.now()).toBeGreaterThan(23 * 3600_000);
      expect(overlapEnds - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
      expect((await c.secret()).secret).toBe(fresh);

      const jobId = await c.submit({ prompt: 'a windmill', callback_url: receiver.url('/rot') });
      const [during] = await eventsOf(jobId);
      const signatures = String(during!.headers['webhook-signature']).split(' ');
      expect(signatures).toHaveLength(2);
      expect(signatures.every((s) => /^v1,[A-Za-z0-9+/]+=*$/.test(s))).toBe(true);
      expect(verifyWebhook(old, during!.headers, during!.body)).toBe(true);
      expect(verifyWebhook(fresh, during!.headers, during!.body)).toBe(true);

      // The overlap ends: the previous secret's expiry moves into the past (the whole list is rewritten, as
      // the embedded MongoDB cannot update an array element by index).
      const tenants = api.services.mongo.collection<{ tenant_id: string; webhook_secrets: Json[] }>(
        'tenants',
      );
      const doc = await tenants.findOne({ tenant_id: tenant });
      expect(doc?.webhook_secrets.map((s) => s.secret)).toEqual([fresh, old]);
      const ended = doc!.webhook_secrets.map((s) =>
        s.secret === old ? { ...s, expires_at: new Date(Date.now() - 1000) } : s,
      );
      const changed = await tenants.updateOne({ tenant_id: tenant }, { $set: { webhook_secrets: ended } });
      expect(changed.modifiedCount).toBe(1);
      expect(await c.secret()).toMatchObject({ secret: fresh, previous_secret_expires_at: null });

      // Workers cache a tenant's secrets for a moment: redeliver until an attempt is signed after that.
      const [delivery] = await c.deliveries(jobId);
      const after = await waitFor(
        async () => {
          const seen = receiver.received.length;
          const res = await c.redeliver(delivery!.delivery_id);
          if (res.status !== 202) return false;
          const next = await waitFor(
            () => receiver.received.slice(seen).find((r) => r.body.includes(jobId)),
            {
              what: 'the redelivered event',
            },
          );
          await waitFor(async () => (await c.deliveries(jobId))[0]?.status === 'delivered');
          return String(next.headers['webhook-signature']).split(' ').length === 1 && next;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'an event signed with the new secret only' },
      );
      expect(after.headers['webhook-id']).toBe(during!.headers['webhook-id']);
      expect(verifyWebhook(fresh, after.headers, after.body)).toBe(true);
      expect(verifyWebhook(old, after.headers, after.body)).toBe(false);
    });
  });
});
