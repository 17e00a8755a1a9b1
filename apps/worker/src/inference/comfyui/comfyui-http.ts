import { InferenceError } from '../inference-backend';

/** One answer from ComfyUI; the body is read whole (JSON routes only). */
export interface HttpAnswer {
  status: number;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface ComfyHttp {
  /** host:port only: the URL may carry a token (ComfyUI-Login's `?token=`), and messages end up in job status. */
  host: string;
  request(
    method: 'GET' | 'POST',
    path: string,
    options?: { body?: unknown; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<HttpAnswer>;
  /** The websocket address for a client id, with the same path prefix and query as the base URL. */
  socketUrl(clientId: string): string;
  headers: Readonly<Record<string, string>>;
}

/**
 * HTTP to one ComfyUI server. The base URL may sit under a reverse proxy's path prefix and carry a query
 * (a token); both are kept on every route. Unreachable → MODEL_UNAVAILABLE; statuses are the caller's to read.
 */
export function createComfyHttp(
  baseUrl: string,
  headers: Readonly<Record<string, string>>,
  defaultTimeoutMs: number,
): ComfyHttp {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const urlFor = (path: string, query: Record<string, string> = {}) => {
    const url = new URL(base.href);
    url.pathname = `${prefix}${path}`;
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return url;
  };

  return {
    host: base.host,
    headers,
    socketUrl(clientId) {
      const url = urlFor('/ws', { clientId });
      url.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
      return url.href;
    },
    async request(method, path, options = {}) {
      const timeout = AbortSignal.timeout(options.timeoutMs ?? defaultTimeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      try {
        const res = await fetch(urlFor(path), {
          method,
          headers: {
            Accept: 'application/json',
            ...(options.body !== undefined && { 'Content-Type': 'application/json' }),
            ...headers,
          },
          ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
          signal,
          // A redirect is a deployment mistake; following it could turn a POST into a GET or drop the headers.
          redirect: 'manual',
        });
        const text = await res.text();
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        return { status: res.status, text, json };
      } catch (err) {
        if (options.signal?.aborted) throw err;
        const why = timeout.aborted
          ? `no answer to ${method} ${path} within ${options.timeoutMs ?? defaultTimeoutMs} ms`
          : causeOf(err);
        throw new InferenceError('MODEL_UNAVAILABLE', `comfyui at ${base.host} is unreachable: ${why}`, {
          cause: err,
        });
      }
    },
  };
}

/**
 * Undici wraps the socket error (ECONNREFUSED, ENOTFOUND…) in `cause`; that code is what an operator needs.
 * Duck-typed: fetch's errors may come from another realm (jest's vm contexts do that).
 */
export function causeOf(err: unknown): string {
  const record = (value: unknown) =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  const cause = record(record(err)?.cause);
  if (typeof cause?.code === 'string') return cause.code;
  const message = record(err)?.message;
  return typeof message === 'string' ? message : String(err);
}

/**
 * A status that says the deployment is wrong rather than the job (a proxy's auth, no ComfyUI at that path, a
 * proxy's timeout or rate limit, a redirect): another attempt, maybe on another endpoint, can succeed.
 */
export const deploymentStatus = (status: number) =>
  (status >= 300 && status < 400) || [401, 403, 404, 405, 408, 429].includes(status);
