/**
 * bench:api's load process (forked by the bench, so the load generator never shares a process, or an event
 * loop, with the server it measures): runs autocannon when asked over IPC and sends back what a round needs.
 */
import autocannon from 'autocannon';

export interface LoadTarget {
  /** Base URL of the server, e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Paths the requests go to in turn (one, or one per job polled). */
  paths: string[];
}

export interface LoadRequest {
  type: 'run';
  id: number;
  target: LoadTarget;
  connections: number;
  durationSeconds: number;
}

export interface LoadResult {
  /** 2xx answers per second over the run. */
  requestsPerSecond: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Answers by HTTP status, to tell what went wrong when not all were 2xx. */
  statusCodes: Record<string, number>;
  latencyMs: { p50: number; p99: number; mean: number; max: number };
  durationSeconds: number;
}

function run(request: LoadRequest): Promise<LoadResult> {
  const { target } = request;
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: target.baseUrl,
        connections: request.connections,
        duration: request.durationSeconds,
        pipelining: 1,
        requests: [
          {
            method: target.method,
            headers: target.headers,
            ...(target.body !== undefined && { body: target.body }),
            setupRequest: (req) => ({ ...req, path: target.paths[next++ % target.paths.length]! }),
          },
        ],
      },
      (err, result) => {
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const ok = result['2xx'];
        resolve({
          requestsPerSecond: ok / result.duration,
          requests: ok,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes: Object.fromEntries(
            Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0]),
          ),
          latencyMs: {
            p50: result.latency.p50,
            p99: result.latency.p99,
            mean: result.latency.mean,
            max: result.latency.max,
          },
          durationSeconds: result.duration,
        });
      },
    );
  });
}

process.on('message', (message: LoadRequest | { type: 'stop' }) => {
  if (message.type === 'stop') process.exit(0);
  if (message.type !== 'run') return;
  run(message).then(
    (result) => process.send!({ type: 'result', id: message.id, result }),
    (err: Error) => process.send!({ type: 'result', id: message.id, error: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
