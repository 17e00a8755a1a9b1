import {
  type ErrorCode,
  type ErrorDetail,
  findSecretFields,
  findUnsafeJson,
  issuesToDetail,
  summarizeDetail,
} from '@castforge/schemas';
import { type z } from 'zod';

/** The one error class of the project: a SPEC §8 `error_code`, a message for people, field details. */
export class AppError extends Error {
  override name = 'AppError';
  readonly detail: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; detail?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.detail = options.detail ?? [];
    this.headers = options.headers ?? {};
  }
}

export function invalidParameters(detail: ErrorDetail[], code: ErrorCode = 'INVALID_PARAMETERS'): AppError {
  return new AppError(code, summarizeDetail(detail), { detail });
}

const within = (loc: ErrorDetail['loc'], prefix: ErrorDetail['loc']) =>
  prefix.length <= loc.length && prefix.every((part, i) => loc[i] === part);

/**
 * Parses a value that entered from outside (`body`, `query`, `path`). Structure no schema should see
 * (too deep, `__proto__`, keys MongoDB cannot store) is refused first; then secret-looking fields (zero
 * data retention) and the schema's complaints are reported together, so one 422 names every bad field.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, root: string): z.infer<S> {
  const unsafe = findUnsafeJson(value, root);
  if (unsafe.length) throw invalidParameters(unsafe);
  const secrets = findSecretFields(value, root);
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success && !secrets.length) return result.data;
  const issues = result.success ? [] : issuesToDetail(result.error.issues, root);
  // A secret field is usually also an unknown one; saying so twice would bury the reason it is refused.
  throw invalidParameters([
    ...secrets,
    ...issues.filter((issue) => !secrets.some((secret) => within(issue.loc, secret.loc))),
  ]);
}
