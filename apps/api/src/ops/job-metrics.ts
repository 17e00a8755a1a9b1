import { type Registry } from '@castforge/core';
import { Counter } from 'prom-client';

/** The API's job counters: submissions, and the jobs it ends itself (cancels). */
export function jobMetrics(registry: Registry) {
  const submitted = new Counter({
    name: 'jobs_submitted_total',
    help: 'Jobs accepted by the API',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  });
  const ended = new Counter({
    name: 'jobs_completed_total',
    help: 'Jobs that ended; the API counts the ones it cancels, workers count the rest',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [registry],
  });
  return { submitted, ended };
}
export type JobMetrics = ReturnType<typeof jobMetrics>;
