/**
 * ops/prometheus as Prometheus reads it: the scrape config and the rule files pass `promtool check`, and
 * the rules' unit tests (ops/prometheus/tests) pass `promtool test rules`: each alert fires on what it is
 * for, after its `for:`, with its annotations rendered, and stays quiet on the nearest healthy case.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promtool } from '@castforge/testkit/promtool';

const dir = path.resolve(__dirname, '../ops/prometheus');
const yamlIn = (sub: string) =>
  readdirSync(path.join(dir, sub))
    .filter((name) => name.endsWith('.yml'))
    .map((name) => `${sub}/${name}`);

describe('ops/prometheus', () => {
  const rules = yamlIn('rules');
  const tests = yamlIn('tests');

  it('has recording and alert rules, and unit tests for them', () => {
    expect(rules).toEqual(['rules/castforge.alerts.yml', 'rules/castforge.recording.yml']);
    expect(tests.length).toBeGreaterThanOrEqual(2);
  });

  it('passes promtool check rules', async () => {
    const result = await promtool(['check', 'rules', ...rules], { cwd: dir });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/SUCCESS: 11 rules found[\s\S]*SUCCESS: 11 rules found/);
  });

  it('passes promtool check config (the scrape config of docker-compose.yml)', async () => {
    const result = await promtool(['check', 'config', '--syntax-only', 'prometheus.yml'], { cwd: dir });
    expect({ code: result.code, out: result.stdout + result.stderr }).toEqual({
      code: 0,
      out: expect.stringMatching(/SUCCESS/),
    });
  });

  it('passes promtool test rules', async () => {
    const result = await promtool(['test', 'rules', ...tests], { cwd: dir });
    expect(result.stdout + result.stderr).not.toMatch(/FAILED/);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/SUCCESS/g)).toHaveLength(tests.length);
  });

  it('is checked by a promtool that does fail a rule test that does not hold', async () => {
    const broken =
      'rule_files: [rules/castforge.alerts.yml]\ntests:\n  - interval: 1m\n    input_series: []\n    alert_rule_test:\n      - eval_time: 1m\n        alertname: CastforgeTargetDown\n        exp_alerts:\n          - exp_labels: { severity: critical }\n';
    const result = await promtool(['test', 'rules', '/dev/stdin'], { cwd: dir, stdin: broken });
    expect(result.code).not.toBe(0);
  });
});
