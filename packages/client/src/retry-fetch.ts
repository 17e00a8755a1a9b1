import { retryAfterSeconds } from './errors';
import { sleep } from './sleep';

export interface RetryOptions {
  /** Retries after the first try; 0 turns retrying off. Default 6. */
  retries?: number;
  /** First back-off when the server gives no Retry-After; doubles each time, with jitter. Default 500 ms. */
  baseDelayMs?: number;
  /** Longest single wait, Retry-After included. Default 30 s. */
  maxDelayMs?: number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A fetch that waits and tries again when the server says "not now": 429 on any method (the request was
 * refused before doing anything, so sending it again is safe), and 503 or a dropped connection on reads only.
 * It waits what Retry-After says when the server says it, else backs off exponentially with full jitter so
 * that many clients refused together do not come back together.
 */
export function retryingFetch(
  base: typeof fetch = (input, init) => fetch(input, init),
  options: RetryOptions = {},
): (request: Request) => Promise<Response> {
  const retries = options.retries ?? 6;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const backoff = (attempt: number) => Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);

  return async (request) => {
    const idempotent = IDEMPOTENT.has(request.method.toUpperCase());
    for (let attempt = 0; ; attempt++) {
      // A body can be read once: each try sends a copy, so the original stays whole for the next one.
      const sent = attempt < retries ? request.clone() : request;
      let response: Response;
      try {
        response = await base(sent);
      } catch (err) {
        if (!idempotent || attempt >= retries || request.signal.aborted) throw err;
        await sleep(backoff(attempt), request.signal);
        continue;
      }
      const retryable = response.status === 429 || (response.status === 503 && idempotent);
      if (!retryable || attempt >= retries) return response;
      const said = retryAfterSeconds(response.headers.get('retry-after'));
      await response.body?.cancel().catch(() => undefined);
      await sleep(said === null ? backoff(attempt) : Math.min(maxDelayMs, said * 1000), request.signal);
    }
  };
}
