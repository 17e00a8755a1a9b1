import { type VettedTarget, pinnedRequest } from '@castforge/core';

/** Retry-After in seconds or as an HTTP date (RFC 9110), in milliseconds from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds > 0 ? seconds * 1000 : undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) && at > now ? at - now : undefined;
}

export interface PostOutcome {
  status: number;
  /** From a Retry-After header (429, 503), in milliseconds. */
  retryAfterMs?: number;
}

/**
 * POSTs one webhook to `url`, connecting to `address` — the address the URL guard just vetted — rather than
 * resolving the host again, so DNS cannot point the connection somewhere else in between. TLS still
 * verifies the certificate against the URL's host. Redirects are not followed.
 */
export function postWebhook(
  target: VettedTarget,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostOutcome> {
  return new Promise((resolve, reject) => {
    const request = pinnedRequest(
      target,
      {
        method: 'POST',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'castforge-webhooks/1',
        },
      },
      (response) => {
        // The answer's body is not needed; read a little of it so the socket is released, then drop it.
        response.resume();
        response.once('end', () => {
          const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
          resolve({ status: response.statusCode ?? 0, ...(retryAfterMs !== undefined && { retryAfterMs }) });
        });
        response.once('error', reject);
      },
    );
    request.once('error', (err: Error) =>
      reject(
        err.name === 'AbortError' || err.name === 'TimeoutError'
          ? new Error(`no answer within ${timeoutMs} ms`)
          : err,
      ),
    );
    request.end(body);
  });
}
