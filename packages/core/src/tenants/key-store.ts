import { randomBytes } from 'node:crypto';
import { TenantId } from '@castforge/schemas';
import { type Connection } from 'mongoose';
import { safeEqualHex, sha256Hex } from '../ids';
import { tenantModels } from './tenant.model';

export interface Principal {
  tenantId: string;
  keyId: string;
  /** The name the key was created with (`npm run keys`, or `bootstrap (API_KEYS)`). */
  keyName: string;
}

export interface ApiKeyInfo {
  key_id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

const KEY_PREFIX = 'cfk_';

export class BootstrapKeysError extends Error {
  override name = 'BootstrapKeysError';
}

/** Parses `API_KEYS="tenant_a:key_a,tenant_b:key_b"`; every malformed entry is named. */
export function parseBootstrapKeys(value: string | undefined): { tenantId: string; key: string }[] {
  if (!value) return [];
  const problems: string[] = [];
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const colon = entry.indexOf(':');
      const tenantId = colon > 0 ? entry.slice(0, colon) : '';
      const key = colon > 0 ? entry.slice(colon + 1) : '';
      if (!TenantId.safeParse(tenantId).success)
        problems.push(`entry ${index + 1}: tenant id must be a-z, 0-9, _ or -`);
      if (key.length < 8) problems.push(`entry ${index + 1}: key must be at least 8 characters`);
      return { tenantId, key };
    });
  if (problems.length) throw new BootstrapKeysError(`API_KEYS is malformed: ${problems.join('; ')}`);
  return entries;
}

/**
 * API keys (SPEC §1): stored only as a hash, compared in constant time, looked up through a short
 * in-process cache so a hot key costs no MongoDB round trip. A revoked key stops working within
 * `cacheTtlMs`.
 */
export function createKeyStore(connection: Connection, options: { cacheTtlMs?: number } = {}) {
  const { Tenant, ApiKey } = tenantModels(connection);
  const ttl = options.cacheTtlMs ?? 5000;
  const cache = new Map<string, { principal: Principal | null; expires: number }>();

  const ensureTenant = (tenantId: string) =>
    Tenant.updateOne(
      { tenant_id: tenantId },
      { $setOnInsert: { tenant_id: tenantId, created_at: new Date(), webhook_secrets: [] } },
      { upsert: true },
    );

  const toInfo = (doc: {
    key_id: string;
    tenant_id: string;
    name: string;
    prefix: string;
    created_at: Date;
    revoked_at: Date | null;
  }): ApiKeyInfo => ({
    key_id: doc.key_id,
    tenant_id: doc.tenant_id,
    name: doc.name,
    prefix: doc.prefix,
    created_at: doc.created_at.toISOString(),
    revoked_at: doc.revoked_at ? doc.revoked_at.toISOString() : null,
  });

  const insertKey = async (tenantId: string, key: string, name: string) => {
    const hash = sha256Hex(key);
    await ensureTenant(tenantId);
    const doc = {
      key_id: `key_${hash.slice(0, 16)}`,
      tenant_id: tenantId,
      hash,
      prefix: key.slice(0, Math.min(10, key.length - 4)),
      name,
      created_at: new Date(),
      revoked_at: null,
    };
    // Upsert on the hash: bootstrapping the same key twice is a no-op, and a revoked key stays revoked.
    await ApiKey.updateOne({ hash }, { $setOnInsert: doc }, { upsert: true });
    return doc;
  };

  return {
    async authenticate(key: string): Promise<Principal | null> {
      const hash = sha256Hex(key);
      const now = Date.now();
      const cached = cache.get(hash);
      if (cached && cached.expires > now) return cached.principal;
      const doc = await ApiKey.findOne(
        { hash },
        { hash: 1, tenant_id: 1, key_id: 1, revoked_at: 1, name: 1 },
      ).lean();
      const principal =
        doc && !doc.revoked_at && safeEqualHex(doc.hash, hash)
          ? { tenantId: doc.tenant_id, keyId: doc.key_id, keyName: doc.name }
          : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, { principal, expires: now + ttl });
      return principal;
    },

    async bootstrap(entries: { tenantId: string; key: string }[]): Promise<void> {
      for (const { tenantId, key } of entries) {
        const existing = await ApiKey.findOne({ hash: sha256Hex(key) }, { tenant_id: 1 }).lean();
        if (existing && existing.tenant_id !== tenantId) {
          throw new BootstrapKeysError(
            `API_KEYS: a key for tenant ${tenantId} is already registered to another tenant`,
          );
        }
        await insertKey(tenantId, key, 'bootstrap (API_KEYS)');
      }
    },

    /** Creates a key and returns it once; only its hash is kept. */
    async create(tenantId: string, name: string): Promise<ApiKeyInfo & { api_key: string }> {
      const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
      const doc = await insertKey(tenantId, key, name);
      return { ...toInfo(doc), api_key: key };
    },

    async list(tenantId?: string): Promise<ApiKeyInfo[]> {
      const docs = await ApiKey.find(tenantId ? { tenant_id: tenantId } : {})
        .sort({ tenant_id: 1, created_at: 1 })
        .lean();
      return docs.map(toInfo);
    },

    /** Returns false when no such key exists. Revoking twice keeps the first revocation time. */
    async revoke(keyId: string): Promise<boolean> {
      const exists = await ApiKey.exists({ key_id: keyId });
      if (!exists) return false;
      await ApiKey.updateOne({ key_id: keyId, revoked_at: null }, { $set: { revoked_at: new Date() } });
      cache.clear();
      return true;
    },

    ensureIndexes: async () => {
      await Tenant.createIndexes();
      await ApiKey.createIndexes();
    },
  };
}
export type KeyStore = ReturnType<typeof createKeyStore>;
