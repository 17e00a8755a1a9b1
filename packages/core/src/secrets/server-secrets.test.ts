import { randomBytes } from 'node:crypto';
import { testLogger } from '@castforge/testkit';
import { type Connection, connectMongo } from '../mongo/connection';
import { serverSecret } from './server-secrets';

/**
 * Issue 8, defect 10: the unique index on `server_secrets.name` is built (mongoose's autoIndex is off), so two
 * processes starting together agree on one secret. Old code never built it: on a real mongod two processes
 * could each insert a signing secret and sign with different keys.
 *
 * Two connections to one database of this test's own stand in for two processes.
 */
describe('server secrets', () => {
  let first: Connection;
  let second: Connection;
  beforeAll(async () => {
    const uri = process.env.MONGODB_URI;
    if (!uri) throw new Error('MONGODB_URI is not set: run the tests through jest');
    const dbName = `t_server_secrets_${randomBytes(4).toString('hex')}`;
    const open = () =>
      connectMongo({ uri, dbName, serverSelectionTimeoutMS: 3000, logger: testLogger('server-secrets') });
    [first, second] = await Promise.all([open(), open()]);
  });
  afterAll(async () => {
    await first.db?.collection('server_secrets').deleteMany({});
    await Promise.all([first.close(), second.close()]);
  });

  it('builds a unique index on the name', async () => {
    await serverSecret(first, 'index-check');
    const indexes = await first.db!.collection('server_secrets').listIndexes().toArray();
    expect(indexes).toContainEqual(expect.objectContaining({ key: { name: 1 }, unique: true }));
  });

  it('gives two processes asking at the same moment the same secret, stored once', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `race-${round}`;
      const [a, b] = await Promise.all([serverSecret(first, name), serverSecret(second, name)]);
      expect(a.length).toBe(32);
      expect(b.equals(a)).toBe(true);
      expect(await first.db!.collection('server_secrets').countDocuments({ name })).toBe(1);
    }
  });

  it('keeps the same secret across restarts, and an explicit value wins without touching the stored one', async () => {
    const stored = await serverSecret(first, 'restart');
    expect((await serverSecret(second, 'restart')).equals(stored)).toBe(true);
    expect((await serverSecret(second, 'restart', 'from-config')).toString()).toBe('from-config');
    expect((await serverSecret(first, 'restart')).equals(stored)).toBe(true);
  });

  it('refuses a second document of the same name (what the index is for)', async () => {
    await serverSecret(first, 'dup');
    const duplicate = await first
      .db!.collection('server_secrets')
      .insertOne({ name: 'dup', value: 'x', created_at: new Date() })
      .then(
        () => 'inserted',
        (err: { code?: number }) => err.code,
      );
    expect(duplicate).toBe(11000);
  });
});
