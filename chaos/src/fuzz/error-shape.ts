import { httpStatusByCode } from '@castforge/schemas';

/** SPEC §8's table: the schemas' codes, plus 501 NOT_IMPLEMENTED, which SPEC §3b/§8 list too. */
const STATUS_BY_CODE: Record<string, number> = { ...httpStatusByCode, NOT_IMPLEMENTED: 501 };

/**
 * What is wrong with an error response, per SPEC §8: a JSON body with exactly `error_code`, `message`,
 * `detail[]` of `{loc, msg, type}` and `request_id`, the status that goes with the code, the request id
 * echoed in X-Request-Id; plus `Allow` on a 405 and `Retry-After` on a 429 or 503. Empty when all is well.
 */
export function errorShapeProblems(
  status: number,
  headers: Record<string, string | undefined>,
  bodyText: string,
): string[] {
  const problems: string[] = [];
  if (!/^application\/json/.test(headers['content-type'] ?? '')) problems.push('not JSON (Content-Type)');
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return [...problems, 'body is not JSON'];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return [...problems, 'body is not an object'];
  const b = body as Record<string, unknown>;
  const keys = Object.keys(b).sort().join(',');
  if (keys !== 'detail,error_code,message,request_id') problems.push(`keys ${keys}`);
  const code = typeof b.error_code === 'string' ? b.error_code : '';
  if (!(code in STATUS_BY_CODE))
    problems.push(`error_code ${JSON.stringify(b.error_code)} is not in SPEC §8`);
  else if (STATUS_BY_CODE[code] !== status) problems.push(`${code} with status ${status}`);
  if (typeof b.message !== 'string' || !b.message) problems.push('message missing');
  if (!Array.isArray(b.detail)) problems.push('detail is not a list');
  else if (
    !b.detail.every(
      (d: unknown) =>
        typeof d === 'object' &&
        d !== null &&
        Object.keys(d).sort().join(',') === 'loc,msg,type' &&
        Array.isArray((d as { loc: unknown }).loc) &&
        typeof (d as { msg: unknown }).msg === 'string' &&
        typeof (d as { type: unknown }).type === 'string',
    )
  )
    problems.push('a detail item is not {loc, msg, type}');
  if (typeof b.request_id !== 'string' || !b.request_id) problems.push('request_id missing');
  else if (headers['x-request-id'] !== b.request_id) problems.push('request_id ≠ X-Request-Id');
  if (status === 405 && !headers.allow) problems.push('405 without Allow');
  if ((status === 429 || status === 503) && !headers['retry-after'])
    problems.push(`${status} without Retry-After`);
  return problems;
}
