import { type ErrorResponse } from './types';

/** A non-2xx answer. `body` is partial: a proxy in front of the API may answer with a body of its own. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: Partial<ErrorResponse> | null,
    /** Seconds the server asked to wait (Retry-After), when it said. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(body?.message ? `${status} ${body.error_code ?? ''}: ${body.message}` : `HTTP ${status}`);
  }

  /** The SPEC §8 `error_code`, when the body had one. */
  get code(): string | undefined {
    return this.body?.error_code;
  }
}

/** The error of a response whose body was already read (by openapi-fetch) into `parsed`. */
export function apiError(response: Response, parsed: unknown): ApiError {
  const body =
    parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Partial<ErrorResponse>)
      : null;
  return new ApiError(response.status, body, retryAfterSeconds(response.headers.get('retry-after')));
}

/** Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}
