import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths pino blanks before a line is written (SPEC §9): API keys, webhook secrets and anything that
 * looks like a credential never reach the logs, whichever object carries them.
 */
export const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'headers.authorization',
  'apiKey',
  'api_key',
  'secret',
  'secrets',
  'webhook_secret',
  '*.apiKey',
  '*.api_key',
  '*.secret',
  '*.secrets',
  '*.webhook_secret',
  '*.password',
];

export function createLogger(options: { name: string; level: string } & Partial<LoggerOptions>): Logger {
  const { name, ...rest } = options;
  return pino({
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...rest,
  });
}

/** Removes the signature from a signed result URL before it is logged (SPEC §9). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:sig|signature|token|key)=)[^&#]*/gi, '$1[redacted]');
}
