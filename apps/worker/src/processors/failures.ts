import { isDependencyOutage } from '@castforge/core';
import { type FailureReasonCode, retryableByFailureCode } from '@castforge/schemas';
import { InferenceError, JobCancelledError, JobTimeoutError } from '../inference/inference-backend';

/** A failure of our own making: storing the result, or a job that cannot run as given. */
export class JobFailure extends Error {
  override name = 'JobFailure';
  constructor(
    readonly code: FailureReasonCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export interface Classified {
  code: FailureReasonCode;
  message: string;
  retryable: boolean;
}

/** One place decides what an error means for the job (SPEC §8), whatever threw it. */
export function classify(err: unknown): Classified {
  const of = (code: FailureReasonCode, message: string): Classified => ({
    code,
    message: message.slice(0, 1000),
    retryable: retryableByFailureCode[code],
  });
  if (err instanceof InferenceError || err instanceof JobFailure) return of(err.code, err.message);
  if (err instanceof JobCancelledError) return of('CANCELLED', 'the job was cancelled');
  if (err instanceof JobTimeoutError) return of('TIMEOUT', err.message);
  if (isDependencyOutage(err))
    return of('INTERNAL_ERROR', 'Redis or MongoDB was unreachable; the job will be retried');
  return of('INTERNAL_ERROR', 'internal error in the worker');
}
