/** What the operator tests read from a Grafana dashboard and from PromQL. */

export interface DashboardTarget {
  panel: string;
  expr: string;
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Variable {
  name: string;
  type: string;
  allValue?: string;
  options?: { value: string }[];
}

export interface Dashboard {
  panels: Panel[];
  templating?: { list: Variable[] };
}

/** Every query of every panel (rows' nested panels included), with its panel's title. */
export function dashboardTargets(dashboard: Dashboard): DashboardTarget[] {
  const flat = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  return flat(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ panel: panel.title, expr: t.expr ?? '' })),
  );
}

/** Grafana's own variables, as Grafana would fill them for a short range over a 1 s scrape interval. */
const BUILT_IN: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '5s',
  __interval_ms: '5000',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
};

/**
 * The expression Grafana sends for a target: `$var`, `${var}` and `[[var]]` replaced, a variable with
 * "All" selected by its allValue (or `.*`), a custom one by its first option.
 */
export function substituteVariables(expr: string, dashboard: Dashboard): string {
  const values: Record<string, string> = { ...BUILT_IN };
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type === 'datasource') continue;
    values[variable.name] = variable.allValue ?? variable.options?.[0]?.value ?? '.*';
  }
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g,
    (match, a?: string, b?: string, c?: string) => {
      const name = a ?? b ?? c ?? '';
      const value = values[name];
      if (value === undefined) throw new Error(`unknown dashboard variable ${match} in: ${expr}`);
      return value;
    },
  );
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects (not its functions, labels, keywords or numbers). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const [, name, call] of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (!call && name && !KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}
