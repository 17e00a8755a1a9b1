import fc from 'fast-check';
import { bodyBytes } from './hostile';
import { cancelCreated, seedOwnResources } from './fuzz-resources';
import { describe, judge } from './judge';
import { type Routes, routesFrom } from './openapi-routes';
import { rawRequest } from './raw-http';
import { type FuzzRequest, requestArbitrary } from './request-arbitrary';
import { type SchemaContext } from './schema-arbitrary';

export interface FuzzTarget {
  /** The API processes; requests go round-robin. */
  baseUrls: string[];
  /** The fuzzing tenant's key, and another tenant's (requests with it must never reach the first's data). */
  key: string;
  otherKey: string;
  /** Callback URLs the SSRF guard accepts (a loopback receiver that answers 204). */
  acceptedCallbackUrl: string;
  runs: number;
  seed: number;
  /** Property runners in parallel (each a fresh TCP connection per request). */
  parallel?: number;
  /** Stop here (ms since epoch) even if fewer than `runs` were sent; the report says how many were. */
  deadline?: number;
  /** Told of every job or campaign a request created, after the fuzzer cancelled it. */
  onCreated?(created: { jobId?: string; campaignId?: string; jobCount?: number }): void;
}

export interface Finding {
  /** `METHOD /path/template: problem`. */
  what: string;
  count: number;
  /** The first request that showed it, abridged. */
  example: string;
}

export interface FuzzReport {
  routes: number;
  /**
   * Connections reset while a large body was still being sent to a route that does not read bodies: Node
   * answers and closes, and the reset can discard the answer before it is read. Not a finding.
   */
  resets: number;
  /** Requests asked for, and sent (fewer when the deadline came first). */
  planned: number;
  requests: number;
  byStatus: Record<number, number>;
  findings: Finding[];
  created: { jobs: number; campaigns: number };
  ms: number;
}

const ANY_ID = /\b(prof|job|camp|dlv)_[0-9a-f]{16}\b/g;

/**
 * Fuzzes every operation of /openapi.json with fast-check: bodies derived from the route's own schema
 * (valid-looking, then with one thing wrong), hostile JSON and bytes, odd and huge headers
 * (X-API-Key, Content-Type, Idempotency-Key, …), hostile path segments and queries, other methods.
 * Every answer must be < 500, arrive within 5 s, and, when it is an error, have the SPEC §8 shape; another
 * tenant's key must never reach the fuzzing tenant's resources. Jobs and campaigns a request manages to
 * create are cancelled at once (the fuzz is about the HTTP surface, not the GPU).
 */
export async function runFuzz(target: FuzzTarget): Promise<FuzzReport> {
  const started = performance.now();
  const baseUrl = target.baseUrls[0]!;
  const servers = target.baseUrls.map((url) => new URL(url));
  const routes: Routes = await routesFrom(baseUrl);
  const pool = new Map<string, Set<string>>();
  const remember = (text: string) => {
    for (const m of text.matchAll(ANY_ID))
      (pool.get(m[1]!) ?? pool.set(m[1]!, new Set()).get(m[1]!)!).add(m[0]);
  };
  const ctx: SchemaContext = {
    resolve: routes.resolve,
    ids: (prefix) => [...(pool.get(prefix) ?? [])],
    urls: [
      target.acceptedCallbackUrl,
      'http://10.0.0.1/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://user:pass@127.0.0.1:1/x',
      'ftp://127.0.0.1/x',
      'https://0.0.0.0/',
      'http://[fe80::1]/',
    ],
  };
  const seedResources = await seedOwnResources(target, baseUrl);
  for (const id of seedResources) remember(id);

  const report: FuzzReport = {
    routes: routes.routes.length,
    resets: 0,
    planned: target.runs,
    requests: 0,
    byStatus: {},
    findings: [],
    created: { jobs: 0, campaigns: 0 },
    ms: 0,
  };
  const findings = new Map<string, Finding>();
  const found = (req: FuzzRequest, problem: string, anyRoute = false) => {
    const what = anyRoute ? `any route: ${problem}` : `${req.method} ${req.route.path}: ${problem}`;
    const seen = findings.get(what);
    if (seen) seen.count += 1;
    else findings.set(what, { what, count: 1, example: describe(req) });
  };

  const send = async (req: FuzzRequest) => {
    report.requests += 1;
    const keyHeaders: [string, string][] =
      req.key === 'own'
        ? [['X-API-Key', target.key]]
        : req.key === 'other'
          ? [['X-API-Key', target.otherKey]]
          : req.key === 'wrong'
            ? [['X-API-Key', 'cfk_nobody_0123456789abcdef']]
            : req.key === 'double'
              ? [
                  ['X-API-Key', target.key],
                  ['X-API-Key', 'cfk_nobody_0123456789abcdef'],
                ]
              : req.key === 'odd'
                ? [['X-API-Key', req.headers.find(([n]) => n === 'X-Odd')?.[1] ?? '\x01']]
                : [];
    const server = servers[report.requests % servers.length]!;
    let res;
    try {
      res = await rawRequest(
        server.hostname,
        Number(server.port),
        {
          method: req.method,
          target: req.target,
          headers: [...keyHeaders, ...req.headers.filter(([n]) => n !== 'X-Odd')],
          body: bodyBytes(req.body),
        },
        15_000,
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'EPIPE' || code === 'ECONNRESET') && (bodyBytes(req.body)?.length ?? 0) > 64 * 1024) {
        report.resets += 1;
        return;
      }
      found(req, `no answer: ${(err as Error).message.replace(/\d+ bytes/, 'n bytes')}`);
      return;
    }
    report.byStatus[res.status] = (report.byStatus[res.status] ?? 0) + 1;
    const problem = judge(req, res);
    if (problem) found(req, problem.text, problem.anyRoute);
    if (res.status < 300 && req.key === 'own') {
      remember(res.body);
      if (req.method === 'POST' && res.status === 202)
        await cancelCreated(target, baseUrl, req, res.body, report);
    }
  };

  const request = requestArbitrary(routes, ctx);
  const parallel = Math.max(1, target.parallel ?? 6);
  await Promise.all(
    Array.from({ length: parallel }, (_, i) =>
      fc.assert(
        fc.asyncProperty(request, async (req) => {
          await send(req);
        }),
        {
          numRuns: Math.ceil(target.runs / parallel),
          seed: target.seed + i,
          endOnFailure: true,
          ...(target.deadline && {
            interruptAfterTimeLimit: Math.max(1000, target.deadline - Date.now()),
            markInterruptAsFailure: false,
          }),
        },
      ),
    ),
  );
  report.findings = [...findings.values()].sort((a, b) => b.count - a.count);
  report.ms = performance.now() - started;
  return report;
}
