import {
  type DeliveryRecord,
  type Logger,
  type Redis,
  type RedisKeys,
  type Sealer,
  UrlRefusedError,
  type UrlGuard,
  type WebhookOutbox,
  type WebhookSecrets,
  signatureHeader,
} from '@castforge/core';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { Counter, Histogram } from 'prom-client';
import { type Registry } from '@castforge/core';
import { postWebhook } from './post-webhook';

/** Carries the delay chosen for the next attempt to BullMQ's backoff strategy. */
export class DeliveryAttemptFailed extends Error {
  override name = 'DeliveryAttemptFailed';
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

export interface DeliveryDeps {
  redis: Redis;
  keys: RedisKeys;
  outbox: WebhookOutbox;
  /** An event's body, built when it is first sent (from the job's record or the campaign's state). */
  eventBody(delivery: DeliveryRecord): Promise<string | null>;
  secrets: WebhookSecrets;
  sealer: Sealer;
  guard: UrlGuard;
  /** Seconds before attempt 2, 3, …: about 24 h in all by default. */
  retryDelaysSeconds: number[];
  timeoutMs: number;
  perHostConcurrency: number;
  perTenantConcurrency: number;
  registry: Registry;
  logger: Logger;
}

/** Retry-After is honoured, up to an hour; the schedule's own delay gets ±20 % jitter. */
export function nextDelayMs(delaysSeconds: number[], attemptsMade: number, retryAfterMs?: number): number {
  const base =
    (delaysSeconds[Math.min(attemptsMade, delaysSeconds.length) - 1] ?? delaysSeconds.at(-1) ?? 60) * 1000;
  const jittered = base * (0.8 + Math.random() * 0.4);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, 3600_000)));
}

/**
 * Delivers one webhook attempt (SPEC §6): vet the URL again (DNS may have changed since submit), sign with
 * every active secret of the tenant, POST with a timeout. A 2xx ends the delivery; anything else is a failed
 * attempt, retried on the schedule until the last one, after which the delivery is dead. A receiver that
 * answers 410 Gone asks not to be called again, so its delivery ends at once. Never more than
 * `perHostConcurrency` attempts of one tenant run against one host (whatever its ports), nor
 * `perTenantConcurrency` for one tenant, so slow or dead receivers cannot take every slot from others.
 */
export function createDeliveryProcessor(deps: DeliveryDeps) {
  const inFlight = new Map<string, number>();
  const take = (keys: string[]) => keys.forEach((k) => inFlight.set(k, (inFlight.get(k) ?? 0) + 1));
  const give = (keys: string[]) =>
    keys.forEach((k) => {
      const left = (inFlight.get(k) ?? 1) - 1;
      if (left > 0) inFlight.set(k, left);
      else inFlight.delete(k);
    });
  const attempts = new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts by result (success, failure)',
    labelNames: ['result'] as const,
    registers: [deps.registry],
  });
  const outcomes = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook deliveries that ended, by outcome (delivered, dead)',
    labelNames: ['outcome'] as const,
    registers: [deps.registry],
  });
  const latency = new Histogram({
    name: 'webhook_delivery_duration_seconds',
    help: 'Time from the start of an attempt to the receiver answer (or the failure)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [deps.registry],
  });

  return async (job: Job<{ d: string }>, token?: string): Promise<void> => {
    const delivery = await deps.outbox.read(job.data.d);
    if (!delivery || delivery.status !== 'pending') return;
    const log = deps.logger.child({ delivery_id: delivery.deliveryId, job_id: delivery.jobId ?? undefined });
    const dead = async (why: string) => {
      await deps.outbox.recordAttempt(delivery, {
        status: 'dead',
        attempts: [
          ...delivery.attempts,
          { at: new Date().toISOString(), status_code: null, error: why, duration_ms: 0 },
        ],
        nextAttemptAt: null,
      });
      outcomes.inc({ outcome: 'dead' });
      log.error(why);
      throw new UnrecoverableError(why);
    };
    const sealed =
      delivery.sealedUrl ??
      (delivery.campaignId ? await deps.outbox.campaignUrl(delivery.tenantId, delivery.campaignId) : null);
    if (!sealed) return dead('the callback URL of this delivery is no longer known');
    let url: string;
    try {
      url = deps.sealer.open(sealed);
    } catch {
      // Sealed with another key (the url-sealing secret was replaced): nothing can be sent.
      return dead('the callback URL of this delivery cannot be unsealed');
    }
    const body = delivery.body ?? (await deps.eventBody(delivery));
    if (body === null) return dead('the job or campaign this event is about is no longer kept');
    // Per tenant and receiving host (whatever its port), and per tenant: tenants sharing a receiving
    // service never hold each other back, and one tenant's dead receivers leave slots for everyone else.
    const limits = [`host:${delivery.tenantId}:${new URL(url).hostname}`, `tenant:${delivery.tenantId}`];
    if (
      (inFlight.get(limits[0]!) ?? 0) >= deps.perHostConcurrency ||
      (inFlight.get(limits[1]!) ?? 0) >= deps.perTenantConcurrency
    ) {
      // Not an attempt: wait for this host's (or tenant's) other deliveries to finish.
      await job.moveToDelayed(Date.now() + 250 + Math.floor(Math.random() * 750), token);
      throw new DelayedError();
    }
    take(limits);
    const started = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let retryAfterMs: number | undefined;
    try {
      const target = await deps.guard.vet(url);
      const timestamp = Math.floor(Date.now() / 1000);
      const secrets = await deps.secrets.signingSecrets(delivery.tenantId);
      const outcome = await postWebhook(
        target,
        {
          'webhook-id': delivery.webhookId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(secrets, delivery.webhookId, timestamp, body),
        },
        body,
        deps.timeoutMs,
      );
      statusCode = outcome.status;
      retryAfterMs = outcome.retryAfterMs;
      if (statusCode < 200 || statusCode >= 300) error = `the receiver answered ${statusCode}`;
    } catch (err) {
      error =
        err instanceof UrlRefusedError
          ? `refused: ${err.message}`
          : (err as Error).message || 'connection failed';
    } finally {
      give(limits);
    }
    const durationMs = Date.now() - started;
    latency.observe(durationMs / 1000);
    const attemptsLog = [
      ...delivery.attempts,
      { at: new Date(started).toISOString(), status_code: statusCode, error, duration_ms: durationMs },
    ];

    const final = error === null || statusCode === 410 || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const delayMs = final ? 0 : nextDelayMs(deps.retryDelaysSeconds, job.attemptsMade + 1, retryAfterMs);
    await deps.outbox.recordAttempt(delivery, {
      status: error === null ? 'delivered' : final ? 'dead' : 'pending',
      attempts: attemptsLog,
      nextAttemptAt: final ? null : new Date(Date.now() + delayMs).toISOString(),
      // Later attempts send the same bytes, whatever happens to the job's record meanwhile.
      ...(error !== null && { body }),
    });

    if (error === null) {
      attempts.inc({ result: 'success' });
      outcomes.inc({ outcome: 'delivered' });
      log.info({ status_code: statusCode, attempt: attemptsLog.length }, 'webhook delivered');
      return;
    }
    attempts.inc({ result: 'failure' });
    if (final) {
      outcomes.inc({ outcome: 'dead' });
      log.warn({ error, attempts: attemptsLog.length }, 'webhook delivery is dead');
      throw new UnrecoverableError(error);
    }
    log.info(
      { error, attempt: attemptsLog.length, retry_in_ms: delayMs },
      'webhook attempt failed; will retry',
    );
    throw new DeliveryAttemptFailed(error, delayMs);
  };
}
