import { type EmbeddedMongo } from '../../packages/core/src/mongo/embedded';

export default async function globalTeardown() {
  const mongo = (globalThis as Record<string, unknown>).__castforgeMongo as EmbeddedMongo | undefined;
  await mongo?.stop();
}
