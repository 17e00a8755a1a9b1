import { type InferenceBackend } from '@castforge/worker/dist/inference/inference-backend';

/**
 * Counts requests in flight per endpoint at the backend seam, independently of the scheduler that is
 * supposed to cap them: the pool's own gauge could share a bug with the code it reports on.
 */
export function probeInFlight(backend: InferenceBackend) {
  const now = new Map<number, number>();
  const max = new Map<number, number>();
  return {
    backend: {
      name: backend.name,
      defaults: backend.defaults,
      operations: backend.operations,
      async run(endpoint, request) {
        const current = (now.get(endpoint.index) ?? 0) + 1;
        now.set(endpoint.index, current);
        max.set(endpoint.index, Math.max(max.get(endpoint.index) ?? 0, current));
        try {
          return await backend.run(endpoint, request);
        } finally {
          now.set(endpoint.index, now.get(endpoint.index)! - 1);
        }
      },
    } satisfies InferenceBackend,
    /** The most requests seen at once at each endpoint, by endpoint index. */
    maxSeen: (endpoints: number) => Array.from({ length: endpoints }, (_, i) => max.get(i) ?? 0),
  };
}
