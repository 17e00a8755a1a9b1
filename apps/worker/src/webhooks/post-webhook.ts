import http from 'node:http';
import https from 'node:https';
import { type LookupFunction } from 'node:net';

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
  target: { url: URL; address: string; family: 4 | 6 },
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostOutcome> {
  const { url, address, family } = target;
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        lookup: pinned,
        agent: false,
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
