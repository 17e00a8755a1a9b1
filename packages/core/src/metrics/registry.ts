import { Registry, collectDefaultMetrics } from 'prom-client';

export { Registry };

/**
 * prom-client's defaults that break Prometheus' naming rules: gauges ending in `_total`, a suffix kept
 * for counters (`promtool check metrics` fails on them). Each is the sum of its typed sibling, which
 * stays: `sum without (type) (nodejs_active_handles)` gives the same number.
 */
const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** One registry per process, injected wherever metrics are recorded (no global default registry). */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
  return registry;
}
