import { type Registry } from '@castforge/core';
import { Counter, Gauge, Histogram } from 'prom-client';

/** The worker's metrics (SPEC §10): bounded labels only, never a job, profile or tenant id. */
export function createWorkerMetrics(
  registry: Registry,
  backend: string,
  slots: () => {
    busy: number;
    total: number;
    waiting: number;
    maxInFlight: number[];
    inFlight: number[];
    perEndpoint: number;
  },
) {
  const registers = [registry];
  new Gauge({
    name: 'gpu_slots',
    help: 'GPU slots of this worker: busy, total, and jobs prepared and waiting for one',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const s = slots();
      this.set({ state: 'busy' }, s.busy);
      this.set({ state: 'total' }, s.total);
      this.set({ state: 'waiting' }, s.waiting);
    },
  });
  new Gauge({
    name: 'gpu_endpoint_slots',
    help: 'GPU slots of each endpoint (index in INFERENCE_URLS): busy and total',
    labelNames: ['endpoint', 'state'] as const,
    registers,
    collect() {
      const s = slots();
      s.inFlight.forEach((busy, index) => {
        this.set({ endpoint: String(index), state: 'busy' }, busy);
        this.set({ endpoint: String(index), state: 'total' }, s.perEndpoint);
      });
    },
  });
  new Gauge({
    name: 'gpu_endpoint_in_flight_max',
    help: 'The most jobs ever in flight at once at each endpoint (index in INFERENCE_URLS); never above INFERENCE_CONCURRENCY',
    labelNames: ['endpoint'] as const,
    registers,
    collect() {
      slots().maxInFlight.forEach((value, index) => this.set({ endpoint: String(index) }, value));
    },
  });
  return {
    completed: new Counter({
      name: 'jobs_completed_total',
      help: 'Jobs that ended, by outcome (completed, failed, cancelled)',
      labelNames: ['endpoint', 'outcome'] as const,
      registers,
    }),
    failed: new Counter({
      name: 'jobs_failed_total',
      help: 'Jobs that failed for good, by failure_reason_code',
      labelNames: ['failure_reason_code'] as const,
      registers,
    }),
    retried: new Counter({
      name: 'jobs_retried_total',
      help: 'Attempts that failed and will be retried after a back-off, by failure_reason_code',
      labelNames: ['failure_reason_code'] as const,
      registers,
    }),
    queueWait: new Histogram({
      name: 'job_queue_wait_seconds',
      help: 'Time from submission to the first start on a GPU',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    inference: new Histogram({
      name: 'inference_duration_seconds',
      help: 'Time a backend spent generating one image',
      labelNames: ['backend'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300],
      registers,
    }).labels({ backend }),
    cacheHits: new Counter({
      name: 'profile_cache_hits_total',
      help: 'Profile versions served from memory',
      registers,
    }),
    cacheMisses: new Counter({
      name: 'profile_cache_misses_total',
      help: 'Profile versions read from MongoDB',
      registers,
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
