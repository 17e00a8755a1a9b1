import { AppError, type Principal, newRequestId } from '@castforge/core';
import { type Request } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by the auth middleware on every route that needs an API key. */
    principal?: Principal;
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's own X-Request-Id is kept (if sane) so it can follow a request across systems. */
export function requestIdFor(req: Request): string {
  const header = req.get('x-request-id');
  return header && CLIENT_REQUEST_ID.test(header) ? header : newRequestId();
}

export function requireTenant(req: Request): string {
  if (!req.principal) throw new Error('route needs the auth middleware');
  return req.principal.tenantId;
}

/**
 * The id in path parameter `param`. An id of the wrong shape cannot exist, so it is a 404 like any other
 * unknown id, never a 422.
 */
export function pathIdFrom(
  req: Request,
  param: string,
  shape: { safeParse(value: unknown): { success: boolean } },
  noun: string,
): string {
  const id = String(req.params[param]);
  if (!shape.safeParse(id).success) throw new AppError('NOT_FOUND', `${noun} ${id} not found`);
  return id;
}
