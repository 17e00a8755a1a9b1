import { startEmbeddedMongo } from '../../packages/core/src/mongo/embedded';

/**
 * One MongoDB for the whole run: the embedded server unless MONGODB_URI points at a real one.
 * Each test file then works in a database of its own (see harness.ts), since the embedded server
 * has no dropDatabase. Redis is the real one at REDIS_URL; each test file uses its own key prefix.
 */
export default async function globalSetup() {
  if (!process.env.MONGODB_URI) {
    const mongo = await startEmbeddedMongo();
    process.env.MONGODB_URI = mongo.uri;
    (globalThis as Record<string, unknown>).__castforgeMongo = mongo;
  }
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
}
