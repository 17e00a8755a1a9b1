import { request as httpRequest } from 'node:http';
import supertest from 'supertest';
import { type ErrorCode, type ErrorResponse, type ProfileList, httpStatusByCode } from '@castforge/schemas';
import { type ApiHarness } from './api';

/** The create request of SPEC §2's example profile, byte for byte as a client would send it. */
export const SEED_PROFILE_JSON =
  '{"name":"Caucasian Woman","description":"Reusable casting identity","prompt_template":"Caucasian woman, late 20s, fair porcelain skin, blonde hair, blue eyes, light natural makeup, warm expression","prompt_template_mode":"suffix","steps":9,"cfg_scale":0.0,"seed_strategy":"fixed","fixed_seed":42,"height":1024,"width":1024,"output_format":"png"}';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * Asserts the one error shape of SPEC §8: exactly `error_code`, `message`, `detail[]` of `{loc,msg,type}`
 * and `request_id`, the status that goes with the code, and the same request id as the X-Request-Id header.
 */
export function expectError(res: HttpAnswer, code: ErrorCode): ErrorResponse {
  const body = res.body as ErrorResponse;
  expect({ status: res.status, error_code: body?.error_code }).toEqual({
    status: httpStatusByCode[code],
    error_code: code,
  });
  expect(Object.keys(body).sort()).toEqual(['detail', 'error_code', 'message', 'request_id']);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(Array.isArray(body.detail)).toBe(true);
  for (const item of body.detail) {
    expect(Object.keys(item).sort()).toEqual(['loc', 'msg', 'type']);
    expect(Array.isArray(item.loc)).toBe(true);
    expect(typeof item.msg).toBe('string');
    expect(typeof item.type).toBe('string');
  }
  expect(body.request_id).toEqual(expect.any(String));
  expect(res.headers['x-request-id']).toBe(body.request_id);
  return body;
}

/** The `loc`s a 422 names, as `body.width`-style strings, for compact assertions. */
export const locsOf = (body: ErrorResponse): string[] => body.detail.map((d) => d.loc.join('.'));

/** The ids, in the order listed, of a `GET /profiles/v1` page. */
export const idsOf = (page: unknown): string[] => (page as ProfileList).profiles.map((p) => p.profile_id);
/** The names of a `GET /profiles/v1` page. */
export const namesOf = (page: unknown): string[] => (page as ProfileList).profiles.map((p) => p.name);

/**
 * Sends exactly these bytes with exactly these headers. supertest serialises a Buffer body as JSON when
 * the Content-Type is JSON, so odd charsets, compressed bodies and byte-order marks need a raw request.
 */
export function rawRequest(
  baseUrl: string,
  options: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<HttpAnswer> {
  const url = new URL(options.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method,
        headers: {
          ...(options.body !== undefined &&
            !options.headers?.['Transfer-Encoding'] && {
              'Content-Length': String(Buffer.byteLength(options.body)),
            }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (/json/.test(String(res.headers['content-type'])) && text) body = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POST /profiles/v1 as a tenant (its key is issued on first use). */
export async function createProfileAs(api: ApiHarness, tenant: string, body: unknown) {
  return supertest(api.server)
    .post('/profiles/v1')
    .set('X-API-Key', await api.keyFor(tenant))
    .send(body as object);
}

/**
 * Sends exact bytes with an API key (POST /profiles/v1 unless said otherwise), for bodies supertest would
 * re-encode: broken JSON, other charsets, gzip, wrong Content-Types.
 */
export const rawSenderFor =
  (api: ApiHarness, key: string) =>
  (
    body: string | Buffer | undefined,
    headers: Record<string, string> = { 'Content-Type': 'application/json' },
    method = 'POST',
    path = '/profiles/v1',
  ) =>
    rawRequest(api.baseUrl, { method, path, headers: { 'X-API-Key': key, ...headers }, body });
