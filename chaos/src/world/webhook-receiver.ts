import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';

/** One POST the receiver got, reduced to what the invariants need. */
export interface Delivery {
  at: number;
  path: string;
  webhookId: string;
  /** `job.completed`, `job.failed`, `job.cancelled`, `campaign.completed`, or '' when unreadable. */
  event: string;
  jobId: string | null;
  campaignId: string | null;
  tenantId: string | null;
  /** The event's status (a job's or a campaign's). */
  status: string | null;
  counts: Record<string, number> | null;
  signatureOk: boolean;
  /** What the receiver answered. */
  answered: number;
}

export interface WebhookReceiver {
  /** A callback URL that always answers 204. */
  okUrl(tag: string): string;
  /** A callback URL that answers 500 to the first attempt of each webhook-id, then 200. */
  flakyUrl(tag: string): string;
  /** Where the fuzzer's callbacks go (204, not part of the ledger). */
  fuzzUrl(): string;
  /** The tenants' secrets, as GET /webhooks/v1/secret gives them. */
  trust(tenantId: string, secret: string): void;
  readonly deliveries: readonly Delivery[];
  close(): Promise<void>;
}

/** Standard Webhooks verification with node:crypto alone (README "Webhooks"), independent of the sender's code. */
export function verifySignature(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${headers.id}.${headers.timestamp}.${body}`).digest();
  return headers.signature
    .split(' ')
    .map((part) => Buffer.from(part.replace(/^v1,/, ''), 'base64'))
    .some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected));
}

const str = (value: unknown) => (typeof value === 'string' ? value : null);

/** A customer's webhook endpoint on 127.0.0.1 (the workers run with CALLBACK_ALLOW_LOOPBACK=true). */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const secrets = new Map<string, string>();
  const failedOnce = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      const raw = Buffer.concat(chunks).toString('utf8');
      if (path.startsWith('/fuzz')) return void res.writeHead(204).end();
      const webhookId = String(req.headers['webhook-id'] ?? '');
      let event: Record<string, unknown> = {};
      try {
        event = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // Recorded as unreadable below; the invariants count it.
      }
      const tenantId = str(event.tenant_id);
      const secret = tenantId ? secrets.get(tenantId) : undefined;
      const signatureOk =
        !!secret &&
        verifySignature(
          secret,
          {
            id: webhookId,
            timestamp: String(req.headers['webhook-timestamp'] ?? ''),
            signature: String(req.headers['webhook-signature'] ?? ''),
          },
          raw,
        );
      const flaky = path.startsWith('/flaky') && !failedOnce.has(webhookId);
      if (flaky) failedOnce.add(webhookId);
      const answered = flaky ? 500 : path.startsWith('/flaky') ? 200 : 204;
      deliveries.push({
        at: Date.now(),
        path,
        webhookId,
        event: str(event.event) ?? '',
        jobId: str(event.job_id),
        campaignId: str(event.campaign_id),
        tenantId,
        status: str(event.status),
        counts: (event.counts as Record<string, number> | undefined) ?? null,
        signatureOk,
        answered,
      });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    okUrl: (tag) => `${base}/ok/${tag}`,
    flakyUrl: (tag) => `${base}/flaky/${tag}`,
    fuzzUrl: () => `${base}/fuzz`,
    trust: (tenantId, secret) => void secrets.set(tenantId, secret),
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
