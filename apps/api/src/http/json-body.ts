import { AppError } from '@castforge/core';
import express, { type RequestHandler } from 'express';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * JSON bodies only: a body sent with another Content-Type is refused with 415 rather than silently
 * ignored, and the size limit answers 413 before the body is read in full.
 *
 * Any JSON value is parsed (`strict: false`): `42` or `null` is valid JSON of the wrong type, a 422
 * naming `body`, not a 400 saying it is not JSON. An empty body is no body (`req.body` stays undefined,
 * so a route that needs one answers 422 "body: is required"), rather than body-parser's `{}`, which would
 * turn an empty PATCH into a successful update.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: false, type: JSON_TYPES });
  return (req, res, next) => {
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return next();
    if (BODY_METHODS.has(req.method) && !req.is(JSON_TYPES)) {
      return next(
        new AppError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', {
          headers: { Accept: 'application/json' },
        }),
      );
    }
    parse(req, res, next);
  };
}
