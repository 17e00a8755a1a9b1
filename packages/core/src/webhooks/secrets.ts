import { type Connection } from 'mongoose';
import { AppError } from '../errors';
import { type TenantDoc, type WebhookSecretDoc, tenantModels } from '../tenants/tenant.model';
import { newWebhookSecret } from './signing';

/** After a rotation, events keep a signature by the previous secret this long (issue #4: 24 h). */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

export interface SecretView {
  secret: string;
  created_at: string;
  previous_secret_expires_at: string | null;
}

const live = (secrets: WebhookSecretDoc[], now: number) =>
  secrets.filter((s) => s.expires_at === null || new Date(s.expires_at).getTime() > now);

function view(secrets: WebhookSecretDoc[]): SecretView {
  const [current, previous] = secrets;
  return {
    secret: current!.secret,
    created_at: new Date(current!.created_at).toISOString(),
    previous_secret_expires_at: previous?.expires_at ? new Date(previous.expires_at).toISOString() : null,
  };
}

/**
 * Each tenant's webhook signing secrets, in MongoDB (never in Redis). The first is made on first use;
 * a rotation puts a new one first and gives the old one 24 h, during which both sign every event.
 */
export function createWebhookSecrets(connection: Connection, options: { cacheMs?: number } = {}) {
  const { Tenant } = tenantModels(connection);
  const cacheMs = options.cacheMs ?? 5000;
  const cache = new Map<string, { secrets: string[]; at: number }>();

  /** Replaces the secret list if nobody changed it since `version`; false when someone did. */
  const swap = async (tenantId: string, version: number, secrets: WebhookSecretDoc[]) => {
    const versionIs = version === 0 ? { $in: [0, null] } : version;
    const { matchedCount } = await Tenant.updateOne(
      { tenant_id: tenantId, secrets_version: versionIs },
      { $set: { webhook_secrets: secrets, secrets_version: version + 1 } },
    );
    cache.delete(tenantId);
    return matchedCount === 1;
  };

  const load = async (tenantId: string) => {
    const doc = await Tenant.findOne(
      { tenant_id: tenantId },
      { webhook_secrets: 1, secrets_version: 1 },
    ).lean<TenantDoc>();
    if (!doc) throw new AppError('NOT_FOUND', `tenant ${tenantId} not found`);
    return { secrets: doc.webhook_secrets ?? [], version: doc.secrets_version ?? 0 };
  };

  async function ensure(tenantId: string): Promise<WebhookSecretDoc[]> {
    for (;;) {
      const { secrets, version } = await load(tenantId);
      const now = Date.now();
      if (live(secrets, now).length) return live(secrets, now);
      const fresh = [{ secret: newWebhookSecret(), created_at: new Date(now), expires_at: null }];
      if (await swap(tenantId, version, fresh)) return fresh;
    }
  }

  return {
    async current(tenantId: string): Promise<SecretView> {
      return view(await ensure(tenantId));
    },

    async rotate(tenantId: string): Promise<SecretView> {
      for (;;) {
        await ensure(tenantId);
        const { secrets, version } = await load(tenantId);
        const now = Date.now();
        const [current] = live(secrets, now);
        const next: WebhookSecretDoc[] = [
          { secret: newWebhookSecret(), created_at: new Date(now), expires_at: null },
          // Only the secret being replaced stays valid for the overlap; older ones end now.
          ...(current ? [{ ...current, expires_at: new Date(now + ROTATION_OVERLAP_MS) }] : []),
        ];
        if (await swap(tenantId, version, next)) return view(next);
      }
    },

    /** Drops the cached secrets of a tenant (its secret was rotated by another process). */
    forget(tenantId: string) {
      cache.delete(tenantId);
    },

    /** The secrets that sign this tenant's events now, newest first (cached for a few seconds). */
    async signingSecrets(tenantId: string): Promise<string[]> {
      const hit = cache.get(tenantId);
      if (hit && Date.now() - hit.at < cacheMs) return hit.secrets;
      const secrets = (await ensure(tenantId)).map((s) => s.secret);
      cache.set(tenantId, { secrets, at: Date.now() });
      return secrets;
    },
  };
}
export type WebhookSecrets = ReturnType<typeof createWebhookSecrets>;
