import { AppError, type Logger, invalidParameters, isDependencyOutage } from '@castforge/core';
import { type ErrorCode, type ErrorResponse, httpStatusByCode, issuesToDetail } from '@castforge/schemas';
import { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { ZodError } from 'zod';
import { requestIdFor } from './request-context';

/** body-parser's error types, mapped to the SPEC §8 table. */
const BODY_PARSER_ERRORS: Record<string, () => AppError> = {
  'entity.parse.failed': () => new AppError('MALFORMED_REQUEST', 'the body is not valid JSON'),
  'entity.too.large': () => new AppError('PAYLOAD_TOO_LARGE', 'the body is larger than this server accepts'),
  'encoding.unsupported': () =>
    new AppError('UNSUPPORTED_MEDIA_TYPE', 'the Content-Encoding is not supported'),
  'charset.unsupported': () => new AppError('UNSUPPORTED_MEDIA_TYPE', 'the body must be UTF-8 JSON'),
  'request.aborted': () =>
    new AppError('MALFORMED_REQUEST', 'the request was aborted before its body arrived'),
  'request.size.invalid': () =>
    new AppError('MALFORMED_REQUEST', 'the body is shorter or longer than Content-Length'),
  'stream.encoding.set': () => new AppError('INTERNAL_ERROR', 'the request stream could not be read'),
};

/** Other client errors Express or body-parser raise with a status (e.g. a gzip body that does not inflate). */
const CODE_BY_CLIENT_STATUS: Record<number, ErrorCode> = {
  400: 'MALFORMED_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // The router could not percent-decode a path parameter: no id can look like that, so it is not found.
  if (err instanceof URIError)
    return new AppError('NOT_FOUND', 'no such resource: the path is not valid percent-encoding');
  if (err instanceof ZodError) {
    return invalidParameters(issuesToDetail(err.issues, 'body'));
  }
  const type = (err as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && BODY_PARSER_ERRORS[type]) return BODY_PARSER_ERRORS[type]();
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && CODE_BY_CLIENT_STATUS[status]) {
    return new AppError(CODE_BY_CLIENT_STATUS[status], 'the request could not be read', { cause: err });
  }
  if (isDependencyOutage(err)) {
    return new AppError(
      'SERVICE_UNAVAILABLE',
      'a backing service (Redis or MongoDB) is unreachable; retry shortly',
      {
        cause: err,
        headers: { 'Retry-After': '1' },
      },
    );
  }
  return new AppError('INTERNAL_ERROR', 'internal error', { cause: err });
}

export function sendError(req: Request, res: Response, error: AppError) {
  const body: ErrorResponse = {
    error_code: error.code,
    message: error.message,
    detail: error.detail,
    request_id: req.id ?? requestIdFor(req),
  };
  res.status(httpStatusByCode[error.code]).set(error.headers).json(body);
}

/** The one error handler: every error leaves in the SPEC §8 shape; bugs are masked and logged with stack. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const error = toAppError(err);
    const log = req.id ? req.log : logger;
    if (error.code === 'INTERNAL_ERROR') log.error({ err }, 'unhandled error');
    else if (error.code === 'SERVICE_UNAVAILABLE')
      log.warn({ err: (err as Error).message }, 'dependency unavailable');
    sendError(req, res, error);
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
};
