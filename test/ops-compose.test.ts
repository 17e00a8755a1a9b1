/**
 * docker-compose.yml's `ops` profile, read as compose reads it (there is no Docker engine here): Prometheus
 * and Grafana exist only in that profile, mount the files of ops/ that exist, at the paths their own
 * configuration names, and reach the API and workers by the service names the scrape config uses.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface Service {
  profiles?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  command?: string[];
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const mounts = (service: Service) =>
  Object.fromEntries(
    (service.volumes ?? [])
      .filter((v) => v.startsWith('./'))
      .map((v) => {
        const [source, target] = v.split(':');
        return [target!, source!];
      }),
  );

describe('docker-compose.yml, profile ops', () => {
  it('adds Prometheus and Grafana in the ops profile only, leaving the default stack as it was', () => {
    const inOps = Object.entries(compose.services)
      .filter(([, s]) => s.profiles?.includes('ops'))
      .map(([name]) => name);
    expect(inOps.sort()).toEqual(['grafana', 'prometheus']);
    for (const name of ['mongo', 'redis', 'api', 'worker'])
      expect(compose.services[name]?.profiles).toBeUndefined();
  });

  it('mounts files of ops/ that exist, where the configs look for them', () => {
    const prometheus = mounts(compose.services.prometheus!);
    const grafana = mounts(compose.services.grafana!);
    expect(prometheus).toEqual({
      '/etc/prometheus/prometheus.yml': './ops/prometheus/prometheus.yml',
      '/etc/prometheus/rules': './ops/prometheus/rules',
    });
    expect(grafana).toEqual({
      '/etc/grafana/provisioning': './ops/grafana/provisioning',
      '/etc/grafana/dashboards': './ops/grafana/dashboards',
    });
    for (const source of [...Object.values(prometheus), ...Object.values(grafana)])
      expect(existsSync(path.join(root, source))).toBe(true);
    expect(compose.services.prometheus!.command).toContain('--config.file=/etc/prometheus/prometheus.yml');

    const scrape = parse(read('ops/prometheus/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    expect(scrape.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    const provider = parse(read('ops/grafana/provisioning/dashboards/castforge.yml')) as {
      providers: { options: { path: string } }[];
    };
    expect(provider.providers[0]!.options.path).toBe('/etc/grafana/dashboards');
    expect(compose.services.grafana!.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(
      '/etc/grafana/dashboards/castforge.json',
    );

    // The scrape targets are the compose services, on the ports they listen on.
    const byJob = Object.fromEntries(scrape.scrape_configs.map((c) => [c.job_name, c.dns_sd_configs?.[0]]));
    expect(byJob['castforge-api']).toMatchObject({ names: ['api'], port: 8080 });
    expect(byJob['castforge-worker']).toMatchObject({ names: ['worker'], port: 9091 });
    expect(compose.services.worker!.environment?.WORKER_METRICS_PORT).toBe('9091');
    expect(compose.services.api!.environment?.PORT).toBe('8080');
  });

  it('points Grafana at the Prometheus service, under the uid the dashboard selects', () => {
    const datasources = parse(read('ops/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { uid: string; url: string; type: string }[];
    };
    expect(datasources.datasources).toEqual([
      expect.objectContaining({
        type: 'prometheus',
        uid: 'castforge-prometheus',
        url: 'http://prometheus:9090',
      }),
    ]);
    const dashboard = JSON.parse(read('ops/grafana/dashboards/castforge.json')) as {
      templating: { list: { name: string; current?: { value: string } }[] };
    };
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.current?.value).toBe(
      'castforge-prometheus',
    );
  });
});

describe('docker-compose.cluster.yml, the Redis Cluster variant', () => {
  interface ClusterService extends Service {
    depends_on?: Record<string, { condition: string }>;
    entrypoint?: string[];
  }
  // Compose's `!override` replaces a merged value instead of adding to it; here it is read as a plain map.
  const override = { tag: '!override', collection: 'map' as const, resolve: (value: unknown) => value };
  const cluster = parse(read('docker-compose.cluster.yml'), { customTags: [override], merge: true }) as {
    services: Record<string, ClusterService>;
  };
  const nodes = [1, 2, 3, 4, 5, 6].map((n) => `redis-${n}`);

  it('runs six cluster nodes and makes them one cluster of three masters with a replica each', () => {
    for (const name of nodes) {
      const command = cluster.services[name]!.command!;
      expect(command.join(' ')).toMatch(
        /--cluster-enabled yes .*--appendonly yes .*--maxmemory-policy noeviction/,
      );
    }
    const init = cluster.services['redis-cluster-init']!;
    expect(Object.keys(init.depends_on!).sort()).toEqual(nodes);
    expect(init.command!.join(' ')).toMatch(
      /redis-cli --cluster create \$\$nodes --cluster-replicas 1 --cluster-yes/,
    );
    // The single Redis no longer starts.
    expect(cluster.services.redis!.profiles).toEqual(['single-redis']);
  });

  it('points the API and the workers at cluster nodes that exist, after the cluster is made', () => {
    for (const app of ['api', 'worker']) {
      const service = cluster.services[app]!;
      const named = service.environment!.REDIS_CLUSTER_NODES!.split(',').map((n) => n.split(':')[0]!);
      for (const node of named) expect(nodes).toContain(node);
      expect(service.environment!.REDIS_WAIT_REPLICAS).toBe('1');
      expect(service.depends_on).toEqual({
        mongo: { condition: 'service_healthy' },
        'redis-cluster-init': { condition: 'service_completed_successfully' },
      });
      // The base file's services it overrides exist there.
      expect(compose.services[app]).toBeDefined();
    }
  });
});
