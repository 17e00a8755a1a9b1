import {
  type Resolve,
  UrlRefusedError,
  type VettedTarget,
  createUrlGuard,
  pinnedRequest,
} from '@castforge/core';
import sharp from 'sharp';
import { type InputImage, abortError } from '../inference/inference-backend';
import { JobFailure } from '../processors/failures';

/** SPEC §3b: an input image is at most 4096 pixels on either side. */
export const MAX_INPUT_SIDE = 4096;

const MIME_BY_FORMAT = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' } as const;

export interface InputFetcherOptions {
  /** INPUT_ALLOW_LOOPBACK: admit 127.0.0.0/8 and ::1 (plain http included), for local testing only. */
  allowLoopback: boolean;
  /** INPUT_IMAGE_MAX_BYTES: reading stops, and the job fails, past this many bytes. */
  maxBytes: number;
  /** INPUT_IMAGE_TIMEOUT_MS: the whole fetch (DNS, connect, answer, body) must end within this. */
  timeoutMs: number;
  /** Injectable for tests; the system resolver otherwise. */
  resolve?: Resolve;
}

export interface InputFetcher {
  /**
   * Fetches the image a job's `field` names and proves it decodes as a PNG, JPEG or WebP of at most
   * 4096×4096. Every failure is `JobFailure('INPUT_INVALID', '<field>: <why>')`, never retried; an abort of
   * `signal` (cancel, time budget) ends with the abort's own error instead. The bytes stay in memory.
   */
  fetch(field: string, url: string, signal?: AbortSignal): Promise<InputImage>;
}

/**
 * The worker's fetch of input images (SPEC §3b). The URL is vetted like a callback URL (scheme, no
 * credentials, every address public after DNS) and the connection goes to exactly the vetted address, so
 * a DNS answer that changes after the check cannot point it at a private host; redirects are refused for
 * the same reason. Messages name the field and the reason, never the URL: they are kept in the job status,
 * and no input URL may outlive the job (SPEC §9).
 */
export function createInputFetcher(options: InputFetcherOptions): InputFetcher {
  const guard = createUrlGuard({
    allowLoopback: options.allowLoopback,
    resolve: options.resolve,
    loopbackSetting: 'INPUT_ALLOW_LOOPBACK',
    credentialsHint: 'use a pre-signed link instead',
  });

  return {
    async fetch(field, url, signal) {
      const invalid = (why: string, cause?: unknown) =>
        new JobFailure('INPUT_INVALID', `${field}: ${why}`, { cause });
      if (signal?.aborted) throw abortError(signal);
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;

      let bytes: Buffer;
      try {
        // DNS has no timeout of its own: the vetting is bounded by the same deadline as the download.
        const target = await untilAborted(guard.vet(url), combined);
        bytes = await download(target, options.maxBytes, combined);
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        if (timeout.aborted) throw invalid(`no complete answer within ${options.timeoutMs} ms`, err);
        if (err instanceof UrlRefusedError) throw invalid(`refused: ${err.message}`, err);
        if (err instanceof DownloadError) throw invalid(err.message, err);
        throw invalid(`could not be fetched (${causeOf(err)})`, err);
      }
      return decode(bytes, invalid);
    },
  };
}

/** Settles as `work` does, or rejects as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal.removeEventListener('abort', onAbort);
    void work.then(
      (value) => (settle(), resolve(value)),
      (err: unknown) => (settle(), reject(err as Error)),
    );
  });
}

class DownloadError extends Error {
  override name = 'DownloadError';
}

/** GETs `url` from the vetted `address`, reading at most `maxBytes`. */
function download(target: VettedTarget, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const request = pinnedRequest(
      target,
      {
        method: 'GET',
        signal,
        headers: {
          accept: 'image/png, image/jpeg, image/webp, */*;q=0.1',
          'user-agent': 'castforge-inputs/1',
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const fail = (message: string) => {
          response.destroy();
          reject(new DownloadError(message));
        };
        if (status >= 300 && status < 400)
          return fail(`the server answered ${status}: redirects are not followed`);
        if (status < 200 || status >= 300) return fail(`the server answered ${status}`);
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          return fail(`is ${declared} bytes; at most ${maxBytes} (INPUT_IMAGE_MAX_BYTES)`);
        }
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          // Stop reading at once: a body past the limit is never held whole.
          if (received > maxBytes) return fail(`is larger than ${maxBytes} bytes (INPUT_IMAGE_MAX_BYTES)`);
          chunks.push(chunk);
        });
        response.once('end', () => resolve(Buffer.concat(chunks)));
        response.once('error', reject);
      },
    );
    request.once('error', reject);
    request.end();
  });
}

/** Proves the bytes are a PNG, JPEG or WebP of at most 4096×4096 by decoding them. */
async function decode(
  bytes: Buffer,
  invalid: (why: string, cause?: unknown) => JobFailure,
): Promise<InputImage> {
  if (bytes.length === 0) throw invalid('the answer was empty, not an image');
  const meta = await sharp(bytes)
    .metadata()
    .catch((err: unknown) => {
      throw invalid('is not an image (PNG, JPEG or WebP)', err);
    });
  const format: string = meta.format;
  if (!(format in MIME_BY_FORMAT))
    throw invalid(`is a ${format} image; only PNG, JPEG and WebP are accepted`);
  const { width = 0, height = 0 } = meta;
  if (width > MAX_INPUT_SIDE || height > MAX_INPUT_SIDE) {
    throw invalid(`is ${width}×${height} pixels; at most ${MAX_INPUT_SIDE}×${MAX_INPUT_SIDE}`);
  }
  try {
    // Headers alone can lie (a truncated file has a valid one): decode every pixel, into a small thumbnail.
    await sharp(bytes, { limitInputPixels: MAX_INPUT_SIDE * MAX_INPUT_SIDE })
      .resize(16, 16, { fit: 'inside' })
      .raw()
      .toBuffer();
  } catch (err) {
    throw invalid(`does not decode as a ${format} image (${causeOf(err)})`, err);
  }
  return { data: bytes, mimeType: MIME_BY_FORMAT[format as keyof typeof MIME_BY_FORMAT], width, height };
}

/**
 * Fetches every input image of a job at once, keyed by field (`input_image`, `source`, …); a field that
 * holds a list (edit's `input_image`) gives `input_image.0`, `input_image.1`, …. The first failure aborts
 * the other fetches.
 */
export async function fetchInputImages(
  fetcher: InputFetcher,
  fields: Readonly<Record<string, string | readonly string[] | undefined>>,
  signal?: AbortSignal,
): Promise<Record<string, InputImage>> {
  const wanted = Object.entries(fields).flatMap(([field, value]): [string, string][] => {
    if (value === undefined) return [];
    if (typeof value === 'string') return [[field, value]];
    return value.map((url, i) => [`${field}.${i}`, url]);
  });
  // Most jobs have no input image: no signals are made for them (each one showed in the worker's profile).
  if (!wanted.length) return {};
  const stop = new AbortController();
  const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  try {
    const fetched = await Promise.all(
      wanted.map(async ([key, url]) => [key, await fetcher.fetch(key, url, combined)] as const),
    );
    return Object.fromEntries(fetched);
  } catch (err) {
    stop.abort();
    throw err;
  }
}

/** The socket error's code (ECONNREFUSED, ECONNRESET, CERT_HAS_EXPIRED…), which is what a caller can act on. */
function causeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (typeof message === 'string') return message;
  }
  return String(err);
}
