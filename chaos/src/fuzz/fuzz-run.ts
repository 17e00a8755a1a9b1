import fc from 'fast-check';
import { errorShapeProblems } from './error-shape';
import {
  type BodySpec,
  bodyBytes,
  contentType,
  hostileBody,
  hostileSegment,
  hugeBody,
  idempotencyKey,
  oddHeaderValue,
} from './hostile';
import { type FuzzRoute, type Routes, routesFrom } from './openapi-routes';
import { type RawResponse, rawRequest } from './raw-http';
import { type SchemaContext, mutated, validish } from './schema-arbitrary';

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

type KeyChoice = 'own' | 'other' | 'none' | 'wrong' | 'odd' | 'double';

interface FuzzRequest {
  route: FuzzRoute;
  aspect: string;
  method: string;
  target: string;
  key: KeyChoice;
  headers: [string, string][];
  body: BodySpec;
  /** An id of the fuzzing tenant's was put in the path. */
  ownIdInPath: boolean;
}

const ID_PREFIX: Record<string, string> = {
  profile_id: 'prof',
  job_id: 'job',
  campaign_id: 'camp',
  delivery_id: 'dlv',
};
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE'];
const ANY_ID = /\b(prof|job|camp|dlv)_[0-9a-f]{16}\b/g;
const SLOW_MS = 5000;

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

/**
 * What a fuzzed request gets wrong: nothing (a valid-looking request, to reach deep into the handlers), or
 * exactly one thing, so a finding points at its cause.
 */
const ASPECTS = [
  'none',
  'none',
  'none',
  'none',
  'method',
  'key',
  'contentType',
  'idempotency',
  'headers',
  'mutated',
  'hostile',
  'hostile',
  'path',
  'query',
  'huge',
] as const;
type Aspect = (typeof ASPECTS)[number];

function requestArbitrary(routes: Routes, ctx: SchemaContext): fc.Arbitrary<FuzzRequest> {
  const param = (name: string, hostile: boolean): fc.Arbitrary<{ value: string; own: boolean }> => {
    if (hostile) return hostileSegment.map((value) => ({ value, own: false }));
    const prefix = ID_PREFIX[name];
    if (!prefix) return fc.nat(20).map((n) => ({ value: String(n), own: false }));
    return fc.oneof(
      {
        weight: 4,
        arbitrary: fc.nat().map((n) => {
          const ids = ctx.ids(prefix);
          const value = ids[n % Math.max(1, ids.length)];
          return value ? { value, own: true } : { value: `${prefix}_${'0'.repeat(16)}`, own: false };
        }),
      },
      {
        weight: 1,
        arbitrary: fc
          .stringMatching(new RegExp(`^${prefix}_[0-9a-f]{16}$`))
          .map((value) => ({ value, own: false })),
      },
    );
  };
  return fc
    .tuple(fc.constantFrom(...routes.routes), fc.constantFrom<Aspect>(...ASPECTS))
    .chain(([route, aspect]) => {
      const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const queryParams = route.parameters.filter((p) => p.in === 'query');
      const headerParams = route.parameters.filter(
        (p) => p.in === 'header' && p.name.toLowerCase() !== 'idempotency-key',
      );
      const hasIdempotency = route.parameters.some((p) => p.name.toLowerCase() === 'idempotency-key');
      const queryValue = (schema: FuzzRoute['parameters'][number]['schema']) =>
        aspect === 'query'
          ? fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent)
          : validish(schema, ctx).map((v) => encodeURIComponent(String(v)));
      const body: fc.Arbitrary<BodySpec> =
        aspect === 'huge'
          ? hugeBody
          : aspect === 'hostile'
            ? hostileBody
            : !route.body
              ? fc.constant<BodySpec>({ kind: 'none' })
              : aspect === 'mutated'
                ? mutated(route.body, ctx).map((value): BodySpec => ({ kind: 'json', value }))
                : validish(route.body, ctx).map((value): BodySpec => ({ kind: 'json', value }));
      return fc
        .record({
          method: aspect === 'method' ? fc.constantFrom(...METHODS) : fc.constant(route.method),
          params: fc.tuple(...pathParams.map((name) => param(name, aspect === 'path'))),
          query: fc.tuple(...queryParams.map((p) => fc.option(queryValue(p.schema), { freq: 2 }))),
          queryOddity:
            aspect === 'query'
              ? fc.constantFrom('&x=1', '&limit=1&limit=2', '&a[b]=c', '&%', '&cursor=%00', '&__proto__[x]=1')
              : fc.constant(''),
          pathOddity:
            aspect === 'path' ? fc.constantFrom('', '', '/', '//', '/extra', '%20') : fc.constant(''),
          key:
            aspect === 'key'
              ? fc.constantFrom<KeyChoice>('other', 'other', 'none', 'wrong', 'odd', 'double')
              : fc.constant<KeyChoice>('own'),
          oddKey: oddHeaderValue,
          contentType: aspect === 'contentType' ? contentType : fc.constant('application/json'),
          idempotencyKey:
            aspect === 'idempotency'
              ? idempotencyKey
              : hasIdempotency
                ? fc.option(fc.uuid(), { freq: 3 })
                : fc.constant(null),
          headerParams: fc.tuple(
            ...headerParams.map((p) =>
              fc.option(aspect === 'headers' ? oddHeaderValue : validish(p.schema, ctx).map(String), {
                freq: 3,
              }),
            ),
          ),
          extra:
            aspect === 'headers'
              ? fc.array(
                  fc.oneof(
                    fc.tuple(fc.constant('X-Request-Id'), oddHeaderValue),
                    fc.tuple(
                      fc.constant('Content-Encoding'),
                      fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'x'),
                    ),
                    fc.tuple(
                      fc.constant('Accept'),
                      fc.constantFrom('*/*', 'text/html', 'application/xml', 'application/json;q=0'),
                    ),
                    fc.tuple(fc.constant('Accept-Charset'), fc.constantFrom('latin1', 'utf-16')),
                    fc.tuple(fc.constant('X-Forwarded-For'), oddHeaderValue),
                  ),
                  { minLength: 1, maxLength: 3 },
                )
              : fc.constant<[string, string][]>([]),
          body,
        })
        .map((r): FuzzRequest => {
          let path = route.path;
          let ownIdInPath = false;
          pathParams.forEach((name, i) => {
            const p = r.params[i]!;
            ownIdInPath ||= p.own;
            path = path.replace(`{${name}}`, p.value);
          });
          const query = queryParams
            .flatMap((p, i) => (r.query[i] == null ? [] : [`${p.name}=${r.query[i]}`]))
            .join('&');
          const target = `${path}${r.pathOddity}${query || r.queryOddity ? `?${query}${r.queryOddity}` : ''}`;
          const headers: [string, string][] = [];
          if (r.contentType !== null && r.body.kind !== 'none') headers.push(['Content-Type', r.contentType]);
          if (r.idempotencyKey !== null) headers.push(['Idempotency-Key', r.idempotencyKey]);
          headerParams.forEach((p, i) => {
            const value = r.headerParams[i];
            if (value != null) headers.push([p.name, value]);
          });
          headers.push(...r.extra);
          if (r.key === 'odd') headers.push(['X-Odd', r.oddKey]);
          return { route, aspect, method: r.method, target, key: r.key, headers, body: r.body, ownIdInPath };
        });
    });
}

/** A profile, a job and a campaign of the fuzzing tenant, so ids in paths and bodies can name real things. */
async function seedOwnResources(target: FuzzTarget, baseUrl: string): Promise<string[]> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'X-API-Key': target.key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return res.text();
  };
  const texts: string[] = [];
  for (const name of ['fuzz-a', 'fuzz-b'])
    texts.push(await post('/profiles/v1', { name, prompt_template: 'a face', width: 64, height: 64 }));
  const profileId = /prof_[0-9a-f]{16}/.exec(texts.join(' '))?.[0];
  const job = await post('/generate/image/v1', { prompt: 'seed', width: 64, height: 64 });
  texts.push(job);
  const jobId = /job_[0-9a-f]{16}/.exec(job)?.[0];
  if (jobId) await post(`/generate/image/v1/cancel/${jobId}`, undefined);
  if (jobId) target.onCreated?.({ jobId });
  if (profileId) {
    const campaign = await post('/campaigns/v1', {
      name: 'fuzz',
      profile_ids: [profileId],
      scenes: [{ prompt: 'x' }],
      variants: 2,
    });
    texts.push(campaign);
    const campaignId = /camp_[0-9a-f]{16}/.exec(campaign)?.[0];
    if (campaignId) {
      await post(`/campaigns/v1/${campaignId}/cancel`, undefined);
      target.onCreated?.({ campaignId, jobCount: 2 });
    }
  }
  return texts;
}

/** A fuzzed POST created work: cancel it at once and tell the caller, whose ledger must see it end. */
async function cancelCreated(
  target: FuzzTarget,
  baseUrl: string,
  req: FuzzRequest,
  text: string,
  report: FuzzReport,
) {
  let body: { job_id?: unknown; campaign_id?: unknown; job_count?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return;
  }
  const cancel = (path: string) =>
    fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'X-API-Key': target.key } }).then((r) =>
      r.text(),
    );
  if (typeof body.campaign_id === 'string' && req.route.path === '/campaigns/v1') {
    report.created.campaigns += 1;
    await cancel(`/campaigns/v1/${body.campaign_id}/cancel`);
    target.onCreated?.({ campaignId: body.campaign_id, jobCount: Number(body.job_count) });
  } else if (typeof body.job_id === 'string' && req.route.path === '/generate/image/v1') {
    report.created.jobs += 1;
    await cancel(`/generate/image/v1/cancel/${body.job_id}`);
    target.onCreated?.({ jobId: body.job_id });
  }
}

/**
 * The one thing wrong with an answer, worst first: a 5xx, another tenant reaching our data, an answer
 * Node's HTTP parser gave before the app saw the request, an error not in the SPEC §8 shape, a slow answer.
 */
function judge(req: FuzzRequest, res: RawResponse): { text: string; anyRoute?: boolean } | null {
  if (res.status >= 500)
    return { text: `${res.status} ${/"error_code":"(\w+)"/.exec(res.body)?.[1] ?? '(no error_code)'}` };
  if (res.status < 300 && req.key === 'other' && req.ownIdInPath)
    return { text: `another tenant's key got ${res.status}` };
  if (
    res.status >= 400 &&
    !res.headers['x-request-id'] &&
    !/^application\/json/.test(res.headers['content-type'] ?? '')
  ) {
    const first = res.body.split('\n')[0]?.slice(0, 60) || '(empty body)';
    return {
      text: `${res.status} answered by Node's HTTP parser, not the app (no §8 body: ${JSON.stringify(first)})`,
      anyRoute: true,
    };
  }
  if (res.status >= 400 && req.method !== 'HEAD') {
    const problems = errorShapeProblems(res.status, res.headers, res.body);
    if (problems.length) return { text: `${res.status} not in the §8 shape: ${problems.join('; ')}` };
  }
  if (res.ms > SLOW_MS) return { text: `answered after ${Math.round(res.ms / 1000)} s` };
  return null;
}

function describe(req: FuzzRequest): string {
  const body = bodyBytes(req.body);
  const bodyText = body
    ? `${body.subarray(0, 160).toString('utf8')}${body.length > 160 ? `… (${body.length} bytes)` : ''}`
    : '(no body)';
  const headers = req.headers
    .map(([n, v]) => `${n}: ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…(${v.length})` : v)}`)
    .join(', ');
  return `[${req.aspect}] ${req.method} ${req.target.length > 120 ? `${req.target.slice(0, 120)}…` : req.target} key=${req.key} ${headers} ${bodyText}`;
}
