import fc from 'fast-check';
import {
  type BodySpec,
  contentType,
  hostileBody,
  hostileSegment,
  hugeBody,
  idempotencyKey,
  oddHeaderValue,
} from './hostile';
import { type FuzzRoute, type Routes } from './openapi-routes';
import { type SchemaContext, mutated, validish } from './schema-arbitrary';

export type KeyChoice = 'own' | 'other' | 'none' | 'wrong' | 'odd' | 'double';

export interface FuzzRequest {
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

export function requestArbitrary(routes: Routes, ctx: SchemaContext): fc.Arbitrary<FuzzRequest> {
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
