import { randomBytes } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';

interface ServerSecretDoc {
  name: string;
  value: string;
  created_at: Date;
}

const schema = new Schema<ServerSecretDoc>(
  {
    name: { type: String, required: true },
    value: { type: String, required: true },
    created_at: { type: Date, required: true },
  },
  { collection: 'server_secrets', versionKey: false },
);
schema.index({ name: 1 }, { unique: true });

/**
 * A deployment-wide secret (e.g. the key that signs result links), created once and shared through
 * MongoDB so every API and worker process agrees without configuration. An explicit value wins.
 */
export async function serverSecret(connection: Connection, name: string, explicit?: string): Promise<Buffer> {
  if (explicit) return Buffer.from(explicit);
  const Secrets =
    (connection.models.ServerSecret as Model<ServerSecretDoc> | undefined) ??
    connection.model<ServerSecretDoc>('ServerSecret', schema);
  // Built explicitly (autoIndex is off): without the unique index two processes starting together on a real
  // mongod could each insert a secret and sign with different keys.
  await Secrets.createIndexes();
  await Secrets.updateOne(
    { name },
    { $setOnInsert: { name, value: randomBytes(32).toString('base64'), created_at: new Date() } },
    { upsert: true },
  ).catch((err: { code?: number }) => {
    // Two processes racing to create it: the other one won, which is fine.
    if (err.code !== 11000) throw err;
  });
  // The oldest one, should a deployment from before the index hold two: every process picks the same.
  const doc = await Secrets.findOne({ name }).sort({ created_at: 1, _id: 1 }).lean();
  if (!doc) throw new Error(`server secret ${name} could not be read`);
  return Buffer.from(doc.value, 'base64');
}
