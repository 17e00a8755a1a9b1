import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Readable } from 'node:stream';
import { type S3Stub, startS3Stub } from '@castforge/testkit/s3-stub';
import { newJobId } from '../ids';
import { type ResultStore } from './result-store';
import { createResultStore } from './result-store-config';
import { createS3ResultStore } from './s3-result-store';

const BUCKET = 'castforge-results';
/** The SDK's default provider chain reads these first; jest gives each test file its own process.env. */
const ACCESS_KEY_ID = 'AKIASTUBSTUBSTUBSTUB';

const read = async (stream: Readable) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

describe('createS3ResultStore, against a path-style S3 stub', () => {
  let stub: S3Stub;
  let store: ResultStore;
  const saved = { ...process.env };
  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = 'stub-secret-access-key';
    stub = await startS3Stub({ buckets: [BUCKET] });
    store = createS3ResultStore({ bucket: BUCKET, endpoint: stub.url, forcePathStyle: true });
  });
  afterAll(async () => {
    process.env = saved;
    await stub.close();
  });

  it.each([
    ['png', 'image/png'],
    ['jpeg', 'image/jpeg'],
    ['webp', 'image/webp'],
  ])('stores a .%s result as one object with Content-Type %s', async (format, mime) => {
    const key = `${newJobId()}.${format}`;
    const bytes = Buffer.from(`${format} bytes of ${key}`);
    await store.put(key, bytes);
    const stored = stub.object(BUCKET, key);
    expect(stored?.contentType).toBe(mime);
    expect(Buffer.compare(stored!.body, bytes)).toBe(0);
  });

  it('opens a stored result as a stream of its bytes, with its size', async () => {
    const key = `${newJobId()}.png`;
    const bytes = Buffer.from('png bytes to read back');
    await store.put(key, bytes);
    const opened = await store.open(key);
    expect(opened?.size).toBe(bytes.length);
    expect(Buffer.compare(await read(opened!.stream), bytes)).toBe(0);
  });

  it('answers null for a result that is not stored, so the API can answer 410', async () => {
    expect(await store.open(`${newJobId()}.png`)).toBeNull();
  });

  it('deletes a result, and deleting one that is already gone succeeds', async () => {
    const key = `${newJobId()}.webp`;
    await store.put(key, Buffer.from('webp'));
    await store.remove(key);
    expect(stub.object(BUCKET, key)).toBeUndefined();
    expect(await store.open(key)).toBeNull();
    await expect(store.remove(key)).resolves.toBeUndefined();
  });

  it('signs every request with the credentials of the SDK default provider chain (the environment here)', async () => {
    const key = `${newJobId()}.png`;
    const before = stub.requests.length;
    await store.put(key, Buffer.from('signed'));
    (await store.open(key))?.stream.destroy();
    await store.remove(key);
    const sent = stub.requests.slice(before);
    expect(sent.map((r) => r.method)).toEqual(['PUT', 'GET', 'DELETE']);
    for (const r of sent) expect(r.headers.authorization).toMatch(`Credential=${ACCESS_KEY_ID}/`);
  });

  it.each([
    ['castforge/results', 'castforge/results/'],
    ['/castforge/results/', 'castforge/results/'],
    ['results/', 'results/'],
    ['', ''],
  ])('with the prefix %j, keeps each result at %s<job_id>.<ext>', async (prefix, expected) => {
    const prefixed = createS3ResultStore({
      bucket: BUCKET,
      prefix,
      endpoint: stub.url,
      forcePathStyle: true,
    });
    const key = `${newJobId()}.png`;
    await prefixed.put(key, Buffer.from('prefixed'));
    expect(stub.object(BUCKET, `${expected}${key}`)).toBeDefined();
    const opened = await prefixed.open(key);
    expect(opened?.size).toBe('prefixed'.length);
    opened?.stream.destroy();
    await prefixed.remove(key);
    expect(stub.object(BUCKET, `${expected}${key}`)).toBeUndefined();
  });

  it.each([
    ['a path that climbs out of the prefix', '../job_0123456789abcdef.png'],
    ['a nested path', 'other/job_0123456789abcdef.png'],
    ['another extension', 'job_0123456789abcdef.gif'],
    ['a name that is not a job id', 'passwd'],
    ['upper-case hex', 'job_0123456789ABCDEF.png'],
  ])('refuses %s as a key without sending anything to the bucket', async (_label, key) => {
    const before = stub.requests.length;
    await expect(store.put(key, Buffer.from('x'))).rejects.toThrow(/not a result key/);
    await expect(store.open(key)).rejects.toThrow(/not a result key/);
    await expect(store.remove(key)).rejects.toThrow(/not a result key/);
    expect(stub.requests.length).toBe(before);
  });

  it('fails, rather than reporting the result missing, when the bucket does not exist', async () => {
    const wrong = createS3ResultStore({ bucket: 'no-such-bucket', endpoint: stub.url, forcePathStyle: true });
    await expect(wrong.open(`${newJobId()}.png`)).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(wrong.remove(`${newJobId()}.png`)).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('gives up on a store that stops answering instead of waiting forever', async () => {
    const impatient = createS3ResultStore({
      bucket: BUCKET,
      endpoint: stub.url,
      forcePathStyle: true,
      timeouts: { idleMs: 200 },
    });
    stub.hold();
    try {
      const started = Date.now();
      await expect(impatient.put(`${newJobId()}.png`, Buffer.from('stalled'))).rejects.toMatchObject({
        name: 'TimeoutError',
      });
      // Three attempts (the SDK's retries) of 200 ms each, plus back-off, not the test timeout.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      stub.answer();
    }
  });
});

describe('createResultStore (RESULT_STORE)', () => {
  const base = {
    RESULT_S3_REGION: 'us-east-1',
    RESULT_S3_FORCE_PATH_STYLE: true,
  };

  it('keeps results in RESULT_DIR when RESULT_STORE is disk', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'castforge-result-store-'));
    try {
      const store = createResultStore({ ...base, RESULT_STORE: 'disk', RESULT_DIR: dir });
      const key = `${newJobId()}.png`;
      await store.put(key, Buffer.from('on disk'));
      expect((await readFile(path.join(dir, key))).toString()).toBe('on disk');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps results in the bucket, under the prefix, when RESULT_STORE is s3', async () => {
    const saved = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = 'stub-secret-access-key';
    const stub = await startS3Stub({ buckets: [BUCKET] });
    try {
      const store = createResultStore({
        ...base,
        RESULT_STORE: 's3',
        RESULT_DIR: '/nonexistent/never-written',
        RESULT_S3_BUCKET: BUCKET,
        RESULT_S3_PREFIX: 'results',
        RESULT_S3_ENDPOINT: stub.url,
      });
      const key = `${newJobId()}.jpeg`;
      await store.put(key, Buffer.from('in the bucket'));
      expect(stub.object(BUCKET, `results/${key}`)?.body.toString()).toBe('in the bucket');
    } finally {
      process.env = saved;
      await stub.close();
    }
  });

  it('refuses s3 without a bucket', () => {
    expect(() => createResultStore({ ...base, RESULT_STORE: 's3', RESULT_DIR: '/tmp' })).toThrow(
      /RESULT_S3_BUCKET is required/,
    );
  });
});
