/**
 * Results in an S3-compatible bucket (SPEC §5, RESULT_STORE=s3): the worker stores each image as an object,
 * the API streams it through its own signed, expiring link (the bucket is never exposed), an expired link
 * deletes the object, and the workers' sweeper deletes objects whose link expired. The bucket is a
 * path-style stub, as MinIO is addressed; credentials come from the environment, as the SDK reads them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@castforge/core';
import {
  type ApiHarness,
  type WorkerHarness,
  expectError,
  rawRequest,
  startApi,
  startWorker,
} from '@castforge/testkit';
import { type S3Stub, startS3Stub } from '@castforge/testkit/s3-stub';
import { waitFor } from '@castforge/testkit/wait';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';
import { loadConfig as loadApiConfig } from '../apps/api/src/config';
import { loadConfig as loadWorkerConfig } from '../apps/worker/src/config';

const BUCKET = 'castforge-results';
const PREFIX = 'story/results';
const ACCESS_KEY_ID = 'AKIASTORYSTUBSTUBSTU';

describe('results kept in an S3-compatible bucket', () => {
  let stub: S3Stub;
  let api: ApiHarness;
  let worker: WorkerHarness;
  let apiKey: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    // The SDK's default provider chain reads these; jest gives each test file its own process.env.
    process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = 'story-secret-access-key';
    stub = await startS3Stub({ buckets: [BUCKET] });
    const s3 = {
      RESULT_STORE: 's3',
      RESULT_S3_BUCKET: BUCKET,
      RESULT_S3_PREFIX: PREFIX,
      RESULT_S3_ENDPOINT: stub.url,
      RESULT_S3_FORCE_PATH_STYLE: 'true',
    };
    api = await startApi('story-results-s3', s3);
    worker = await startWorker(api.services, s3);
    apiKey = await api.keyFor('s3-results');
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await stub?.close();
    process.env = saved;
  });

  const generate = async (prompt: string) => {
    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', apiKey)
      .send({ prompt, width: 64, height: 64, num_inference_steps: 4, output_format: 'png' });
    expect(submitted.status).toBe(202);
    const jobId = submitted.body.job_id as string;
    return waitFor(
      async () => {
        const status = (
          await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', apiKey)
        ).body as JobStatus;
        return status.status === 'completed' && status;
      },
      { timeoutMs: 15_000, what: `job ${jobId} to complete` },
    );
  };
  const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;
  const objectOf = (jobId: string) => stub.object(BUCKET, `${PREFIX}/${jobId}.png`);

  it("serves a completed job's image through the API's signed link, byte for byte what the bucket holds", async () => {
    const done = await generate('a lighthouse kept in a bucket');
    const stored = objectOf(done.job_id);
    expect(stored?.contentType).toBe('image/png');
    expect(stored!.body.length).toBe(done.result_size_bytes);

    // The link is the API's own, never the bucket's.
    expect(done.result_url).toMatch(new RegExp(`^${api.deps.config.PUBLIC_BASE_URL}/results/v1/`));
    expect(done.result_url).not.toContain(stub.url);
    expect(done.result_url).not.toContain(BUCKET);

    const image = await request(api.server)
      .get(pathOf(done.result_url!))
      .buffer(true)
      .parse((res, callback) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => callback(null, Buffer.concat(chunks)));
      });
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.headers['content-length']).toBe(String(stored!.body.length));
    expect(Buffer.compare(image.body as Buffer, stored!.body)).toBe(0);

    // Nothing went to the disk store, and every request to the bucket was signed with the environment's key.
    expect(existsSync(path.join(api.deps.config.RESULT_DIR, `${done.job_id}.png`))).toBe(false);
    for (const sent of stub.requests)
      expect(sent.headers.authorization).toMatch(`Credential=${ACCESS_KEY_ID}/`);
  });

  it('answers an expired link with 410 and deletes the object from the bucket', async () => {
    const done = await generate('a lighthouse whose link expires');
    const key = `${done.job_id}.png`;
    expect(objectOf(done.job_id)).toBeDefined();
    const expired = api.deps.resultUrl(key, Date.now() - 5_000);

    const body = expectError(await rawRequest(api.baseUrl, { method: 'GET', path: pathOf(expired) }), 'GONE');
    expect(body.message).toMatch(/expired/);
    expect(objectOf(done.job_id)).toBeUndefined();
    expect(stub.requests).toContainEqual(
      expect.objectContaining({ method: 'DELETE', bucket: BUCKET, key: `${PREFIX}/${key}` }),
    );
    // The job's own link now finds nothing stored, and says so with 410 too.
    expectError(await rawRequest(api.baseUrl, { method: 'GET', path: pathOf(done.result_url!) }), 'GONE');
  });

  it("lets the workers' sweeper delete objects whose link expired, and only those", async () => {
    const [expiring, kept] = await Promise.all([
      generate('a lighthouse the sweeper takes'),
      generate('a lighthouse the sweeper leaves'),
    ]);
    expect(objectOf(expiring.job_id)).toBeDefined();
    // Links are valid for RESULT_TTL_SECONDS (at least 10 s); moving this one's expiry into the past in the
    // sweeper's schedule stands in for waiting it out.
    await api.services.redis.zadd(
      worker.pool.keys.forTenant('s3-results').results,
      Date.now() - 1_000,
      `${expiring.job_id}.png`,
    );

    await worker.pool.sweepResults();
    expect(objectOf(expiring.job_id)).toBeUndefined();
    expect(objectOf(kept.job_id)).toBeDefined();
    expectError(await rawRequest(api.baseUrl, { method: 'GET', path: pathOf(expiring.result_url!) }), 'GONE');
    expect((await rawRequest(api.baseUrl, { method: 'GET', path: pathOf(kept.result_url!) })).status).toBe(
      200,
    );
  });
});

describe('RESULT_STORE=s3 configuration', () => {
  it.each([
    ['the API', loadApiConfig],
    ['a worker', loadWorkerConfig],
  ])(
    '%s refuses to start without RESULT_S3_BUCKET, naming it with every other bad variable',
    (_app, load) => {
      let refused: unknown;
      try {
        load({ RESULT_STORE: 's3', RESULT_TTL_SECONDS: 'soon', CALLBACK_ALLOW_LOOPBACK: 'maybe' });
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(ConfigError);
      const problems = (refused as ConfigError).problems;
      expect(problems).toContainEqual(
        expect.stringMatching(/^RESULT_S3_BUCKET: is required when RESULT_STORE=s3/),
      );
      expect(problems).toContainEqual(expect.stringMatching(/^RESULT_TTL_SECONDS: /));
      expect(problems).toContainEqual(expect.stringMatching(/^CALLBACK_ALLOW_LOOPBACK: /));
    },
  );

  it.each([
    ['the API', loadApiConfig],
    ['a worker', loadWorkerConfig],
  ])(
    '%s keeps results on disk unless told otherwise, and reads every S3 setting the same way',
    (_app, load) => {
      expect(load({})).toMatchObject({ RESULT_STORE: 'disk', RESULT_S3_REGION: 'us-east-1' });
      expect(
        load({
          RESULT_STORE: 's3',
          RESULT_S3_BUCKET: BUCKET,
          RESULT_S3_PREFIX: 'castforge/',
          RESULT_S3_REGION: 'eu-central-1',
          RESULT_S3_ENDPOINT: 'https://minio.internal:9000',
          RESULT_S3_FORCE_PATH_STYLE: 'true',
        }),
      ).toMatchObject({
        RESULT_STORE: 's3',
        RESULT_S3_BUCKET: BUCKET,
        RESULT_S3_PREFIX: 'castforge/',
        RESULT_S3_REGION: 'eu-central-1',
        RESULT_S3_ENDPOINT: 'https://minio.internal:9000',
        RESULT_S3_FORCE_PATH_STYLE: true,
      });
    },
  );

  it('refuses an unknown store and a bucket name with a slash in it', () => {
    expect(() => loadApiConfig({ RESULT_STORE: 'gcs' })).toThrow(/RESULT_STORE/);
    expect(() => loadApiConfig({ RESULT_STORE: 's3', RESULT_S3_BUCKET: 'bucket/escape' })).toThrow(
      /RESULT_S3_BUCKET: must be a bucket name/,
    );
  });
});
