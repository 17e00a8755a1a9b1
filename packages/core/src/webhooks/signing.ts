import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export const newWebhookSecret = () => `${PREFIX}${randomBytes(32).toString('base64')}`;

/** The HMAC key of a secret is its base64 part, decoded (as in the Standard Webhooks libraries). */
export const secretKey = (secret: string) =>
  Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');

/**
 * `webhook-signature`: one `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` per active secret,
 * space-separated, newest first, so during a rotation receivers on either secret verify the event.
 */
export function signatureHeader(
  secrets: readonly string[],
  webhookId: string,
  timestamp: number,
  body: string,
): string {
  return secrets
    .map(
      (secret) =>
        `v1,${createHmac('sha256', secretKey(secret)).update(`${webhookId}.${timestamp}.${body}`).digest('base64')}`,
    )
    .join(' ');
}
