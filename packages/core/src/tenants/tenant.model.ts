import { Schema, type Connection, type Model } from 'mongoose';

export interface WebhookSecretDoc {
  secret: string;
  created_at: Date;
  /** Set when a newer secret replaces this one: events keep both signatures until then. */
  expires_at: Date | null;
}

export interface TenantDoc {
  tenant_id: string;
  created_at: Date;
  /** Newest first; an entry with `expires_at` in the past is no longer used. */
  webhook_secrets: WebhookSecretDoc[];
  /** Bumped by every change of webhook_secrets, so concurrent rotations cannot lose one. */
  secrets_version: number;
}

export interface ApiKeyDoc {
  key_id: string;
  tenant_id: string;
  /** SHA-256 of the key: keys are long random strings, so a fast hash is enough and lookups stay indexable. */
  hash: string;
  /** The first characters of the key, so a person can tell keys apart in `keys list`. */
  prefix: string;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

const tenantSchema = new Schema<TenantDoc>(
  {
    tenant_id: { type: String, required: true },
    created_at: { type: Date, required: true },
    webhook_secrets: {
      type: [{ secret: String, created_at: Date, expires_at: { type: Date, default: null }, _id: false }],
      default: [],
    },
    secrets_version: { type: Number, default: 0 },
  },
  { collection: 'tenants', versionKey: false },
);
tenantSchema.index({ tenant_id: 1 }, { unique: true });

const apiKeySchema = new Schema<ApiKeyDoc>(
  {
    key_id: { type: String, required: true },
    tenant_id: { type: String, required: true },
    hash: { type: String, required: true },
    prefix: { type: String, required: true },
    name: { type: String, required: true },
    created_at: { type: Date, required: true },
    revoked_at: { type: Date, default: null },
  },
  { collection: 'api_keys', versionKey: false },
);
apiKeySchema.index({ hash: 1 }, { unique: true });
apiKeySchema.index({ key_id: 1 }, { unique: true });
apiKeySchema.index({ tenant_id: 1, created_at: -1 });

export interface TenantModels {
  Tenant: Model<TenantDoc>;
  ApiKey: Model<ApiKeyDoc>;
}

export function tenantModels(connection: Connection): TenantModels {
  return {
    Tenant: connection.models.Tenant ?? connection.model<TenantDoc>('Tenant', tenantSchema),
    ApiKey: connection.models.ApiKey ?? connection.model<ApiKeyDoc>('ApiKey', apiKeySchema),
  };
}
