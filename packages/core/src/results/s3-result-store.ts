import { Readable } from 'node:stream';
import type * as S3 from '@aws-sdk/client-s3';
import { OutputFormat, mimeTypeByFormat } from '@castforge/schemas';
import { type ResultStore, assertResultKey } from './result-store';

export interface S3ResultStoreOptions {
  bucket: string;
  /** Folder inside the bucket, e.g. `castforge/results`; slashes around it are optional. */
  prefix?: string;
  /** Default us-east-1; S3-compatible stores usually accept any. */
  region?: string;
  /** For S3-compatible stores (MinIO, R2, …); unset means AWS S3. */
  endpoint?: string;
  /** `https://host/bucket/key` instead of `https://bucket.host/key`; most self-hosted stores need it. */
  forcePathStyle?: boolean;
  /**
   * The SDK waits forever by default: a store that stops answering would hold an API request, or a job
   * whose GPU work is already done, indefinitely. Defaults: 5 s to connect, 30 s of silence on a socket.
   */
  timeouts?: { connectMs?: number; idleMs?: number };
}

/**
 * Results in an S3-compatible bucket (SPEC §5). The bucket is never exposed: the API streams objects
 * through its own signed, expiring links and the workers' sweeper deletes them, so the bucket needs no
 * public access. Credentials come from the SDK's default provider chain (AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY, profiles, instance and task roles), never from our config, and are never logged.
 */
export function createS3ResultStore(options: S3ResultStoreOptions): ResultStore {
  // The SDK takes ~0.1 s to load (~0.5 s under jest): only a process that uses a bucket loads it, not every
  // disk deployment and every test that imports core.
  let connected: Promise<{ sdk: typeof S3; client: S3.S3Client }> | undefined;
  const connect = () =>
    (connected ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        region: options.region ?? 'us-east-1',
        forcePathStyle: options.forcePathStyle ?? false,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        requestHandler: {
          connectionTimeout: options.timeouts?.connectMs ?? 5_000,
          socketTimeout: options.timeouts?.idleMs ?? 30_000,
        },
      }),
    })));
  const { bucket } = options;
  const prefix = normalisePrefix(options.prefix);
  const objectKey = (key: string) => {
    assertResultKey(key);
    return `${prefix}${key}`;
  };

  return {
    async put(key, data) {
      const Key = objectKey(key);
      const { sdk, client } = await connect();
      await client.send(
        new sdk.PutObjectCommand({ Bucket: bucket, Key, Body: data, ContentType: contentTypeOf(key) }),
      );
    },
    async open(key) {
      const Key = objectKey(key);
      const { sdk, client } = await connect();
      try {
        const { Body, ContentLength } = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key }));
        // In Node the SDK hands back the HTTP response itself; anything else would be a browser runtime.
        if (!(Body instanceof Readable)) throw new Error('S3 answered without a readable body');
        if (ContentLength === undefined) {
          Body.destroy();
          throw new Error('S3 answered without a Content-Length');
        }
        return { stream: Body, size: ContentLength };
      } catch (err) {
        if (isMissingObject(sdk, err)) return null;
        throw err;
      }
    },
    async remove(key) {
      const Key = objectKey(key);
      const { sdk, client } = await connect();
      try {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key }));
      } catch (err) {
        // S3 answers 204 for a missing key; some compatible stores answer 404 instead. Gone either way.
        if (!isMissingObject(sdk, err)) throw err;
      }
    },
  };
}

/** `results`, `/results/` and `results/` all mean objects named `results/<job_id>.<ext>`. */
function normalisePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed ? `${trimmed}/` : '';
}

/** assertResultKey has already admitted only `<job_id>.<png|jpeg|webp>`. */
function contentTypeOf(key: string): string {
  return mimeTypeByFormat[OutputFormat.parse(key.slice(key.lastIndexOf('.') + 1))];
}

/**
 * A missing object reads as a missing result (the API answers 410), but a missing bucket is a
 * misconfiguration and must surface as an error rather than as every result having expired.
 */
function isMissingObject(sdk: typeof S3, err: unknown): boolean {
  if (!(err instanceof sdk.S3ServiceException)) return false;
  if (err.name === 'NoSuchKey' || err.name === 'NotFound') return true;
  return err.$metadata.httpStatusCode === 404 && err.name !== 'NoSuchBucket';
}
