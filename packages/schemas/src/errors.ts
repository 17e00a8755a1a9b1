import { z } from 'zod';

/** Every `error_code` an HTTP error response can carry (SPEC §8). */
export const ErrorCode = z.enum([
  'MALFORMED_REQUEST',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CONFLICT',
  'GONE',
  'PRECONDITION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'INVALID_PARAMETERS',
  'INPUT_INVALID',
  'RATE_LIMIT_EXCEEDED',
  'CONCURRENT_JOBS_EXCEEDED',
  'NOT_IMPLEMENTED',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_ERROR',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const httpStatusByCode = {
  MALFORMED_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  GONE: 410,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_PARAMETERS: 422,
  INPUT_INVALID: 422,
  RATE_LIMIT_EXCEEDED: 429,
  CONCURRENT_JOBS_EXCEEDED: 429,
  NOT_IMPLEMENTED: 501,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
} as const satisfies Record<ErrorCode, number>;

export const ErrorDetail = z.object({
  loc: z.array(z.union([z.string(), z.number()])),
  msg: z.string(),
  type: z.string(),
});
export type ErrorDetail = z.infer<typeof ErrorDetail>;

export const ErrorResponse = z
  .object({
    error_code: ErrorCode,
    message: z.string(),
    detail: z.array(ErrorDetail),
    request_id: z.string(),
  })
  .meta({ id: 'ErrorResponse', description: 'The one shape of every error response (SPEC §8).' });
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** Why a job failed (SPEC §8), carried by the status and the webhook event. */
export const FailureReasonCode = z.enum([
  'RATE_LIMIT_EXCEEDED',
  'CONCURRENT_JOBS_EXCEEDED',
  'INPUT_INVALID',
  'MODEL_ERROR',
  'MODEL_UNAVAILABLE',
  'STORAGE_ERROR',
  'TIMEOUT',
  'INTERNAL_ERROR',
  'CANCELLED',
]);
export type FailureReasonCode = z.infer<typeof FailureReasonCode>;

export const retryableByFailureCode = {
  RATE_LIMIT_EXCEEDED: true,
  CONCURRENT_JOBS_EXCEEDED: true,
  INPUT_INVALID: false,
  MODEL_ERROR: true,
  MODEL_UNAVAILABLE: true,
  STORAGE_ERROR: true,
  TIMEOUT: true,
  INTERNAL_ERROR: true,
  CANCELLED: false,
} as const satisfies Record<FailureReasonCode, boolean>;
