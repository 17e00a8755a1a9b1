import { Registry, collectDefaultMetrics } from 'prom-client';

export { Registry };

/** One registry per process, injected wherever metrics are recorded (no global default registry). */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
