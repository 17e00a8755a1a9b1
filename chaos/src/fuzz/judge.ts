import { errorShapeProblems } from './error-shape';
import { bodyBytes } from './hostile';
import { type RawResponse } from './raw-http';
import { type FuzzRequest } from './request-arbitrary';

const SLOW_MS = 5000;

/**
 * The one thing wrong with an answer, worst first: a 5xx, another tenant reaching our data, an answer
 * Node's HTTP parser gave before the app saw the request, an error not in the SPEC §8 shape, a slow answer.
 */
export function judge(req: FuzzRequest, res: RawResponse): { text: string; anyRoute?: boolean } | null {
  // 501 NOT_IMPLEMENTED is the contract's answer for an operation the deployment does not run (SPEC §3b).
  const notImplemented = res.status === 501 && /"error_code":"NOT_IMPLEMENTED"/.test(res.body);
  if (res.status >= 500 && !notImplemented)
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

export function describe(req: FuzzRequest): string {
  const body = bodyBytes(req.body);
  const bodyText = body
    ? `${body.subarray(0, 160).toString('utf8')}${body.length > 160 ? `… (${body.length} bytes)` : ''}`
    : '(no body)';
  const headers = req.headers
    .map(([n, v]) => `${n}: ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…(${v.length})` : v)}`)
    .join(', ');
  return `[${req.aspect}] ${req.method} ${req.target.length > 120 ? `${req.target.slice(0, 120)}…` : req.target} key=${req.key} ${headers} ${bodyText}`;
}
