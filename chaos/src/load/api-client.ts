/** One answer of the API as the load driver saw it. `status` 0: no answer (connection error or timeout). */
export interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: Headers | null;
  ms: number;
  error?: string;
}

export interface ApiClient {
  /** Round-robin over the API processes, as a load balancer would. */
  request<T = unknown>(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number },
  ): Promise<Answer<T>>;
  /** Every answer by status (0 = none), for the report. */
  readonly statusCounts: ReadonlyMap<number, number>;
  /** The slowest answer, in ms, and what it was. */
  readonly slowest: { ms: number; what: string };
}

/**
 * The driver's view of the API: plain HTTP over keep-alive connections (Node's fetch), a timeout on every
 * request so a hang shows up as a figure instead of stalling the run.
 */
export function apiClient(baseUrls: string[], defaultTimeoutMs = 15_000): ApiClient {
  let next = 0;
  const statusCounts = new Map<number, number>();
  const slowest = { ms: 0, what: '' };
  return {
    statusCounts,
    slowest,
    async request<T>(
      method: string,
      path: string,
      options: { key?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
    ): Promise<Answer<T>> {
      const base = baseUrls[next++ % baseUrls.length]!;
      const headers: Record<string, string> = { ...options.headers };
      if (options.key) headers['X-API-Key'] = options.key;
      if (options.body !== undefined) headers['Content-Type'] = 'application/json';
      const started = performance.now();
      let answer: Answer<T>;
      try {
        const res = await fetch(`${base}${path}`, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(options.timeoutMs ?? defaultTimeoutMs),
        });
        const text = await res.text();
        let body: unknown = text;
        if (/json/.test(res.headers.get('content-type') ?? '') && text) body = JSON.parse(text);
        answer = {
          status: res.status,
          body: body as T,
          headers: res.headers,
          ms: performance.now() - started,
        };
      } catch (err) {
        answer = {
          status: 0,
          body: undefined as T,
          headers: null,
          ms: performance.now() - started,
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        };
      }
      statusCounts.set(answer.status, (statusCounts.get(answer.status) ?? 0) + 1);
      if (answer.ms > slowest.ms) {
        slowest.ms = answer.ms;
        slowest.what = `${method} ${path.replace(/\?.*/, '')} → ${answer.status || answer.error}`;
      }
      return answer;
    },
  };
}
