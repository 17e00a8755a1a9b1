import { SECRET_REFUSED_MESSAGE, findSecretFields, isSecretFieldName } from './secrets';

describe('isSecretFieldName', () => {
  it.each([
    'key',
    'api_key',
    'apiKey',
    'APIKey',
    'x-api-key',
    'access_key_id',
    'accessKeyId',
    'AccessKey',
    'secret',
    'secret_access_key',
    'secretAccessKey',
    'secretaccesskey',
    'client_secret',
    'clientSecret',
    'password',
    'db_password',
    'passwd',
    'passphrase',
    'token',
    'session_token',
    'sessionToken',
    'refresh_token',
    'sas_token',
    'credential',
    'credentials',
    'gcp_credentials_json',
    'encryption_key',
    'encryptionKey',
    'sse_customer_key',
    'private_key',
    'privateKey',
    'connection_string',
    'connectionString',
    'Authorization',
    'bearer',
    'signature',
  ])('treats %s as a secret', (name) => {
    expect(isSecretFieldName(name)).toBe(true);
  });

  it.each([
    'name',
    'bucket',
    'prefix',
    'region',
    'endpoint',
    'provider',
    'keywords',
    'keyframe_interval',
    'monkey',
    'turkey',
    'tokenizer',
    'passage',
    'passthrough',
    'author',
    'secretary',
    'identity_strength',
    'loras',
  ])('treats %s as harmless', (name) => {
    expect(isSecretFieldName(name)).toBe(false);
  });

  it('errs towards refusal for names that only sound secret, such as token_merging_ratio and max_tokens', () => {
    expect(isSecretFieldName('token_merging_ratio')).toBe(true);
    expect(isSecretFieldName('max_tokens')).toBe(true);
  });
});

describe('findSecretFields', () => {
  it('finds nothing in a clean value, and nothing in primitives', () => {
    expect(findSecretFields({ name: 'x', storage: { provider: 's3', bucket: 'b' } }, 'body')).toEqual([]);
    for (const value of [null, undefined, 42, 'secret', true])
      expect(findSecretFields(value, 'body')).toEqual([]);
  });

  it('names every secret field with its full path, inside objects and arrays, in the order sent', () => {
    const found = findSecretFields(
      {
        storage: { bucket: 'b', access_key_id: 'A', secret_access_key: 'S' },
        adapter: { extra: { hooks: [{ url: 'u' }, { headers: { Authorization: 'Bearer x' } }] } },
        token: 't',
      },
      'body',
    );
    expect(found).toEqual([
      { loc: ['body', 'storage', 'access_key_id'], msg: SECRET_REFUSED_MESSAGE, type: 'secret_refused' },
      { loc: ['body', 'storage', 'secret_access_key'], msg: SECRET_REFUSED_MESSAGE, type: 'secret_refused' },
      {
        loc: ['body', 'adapter', 'extra', 'hooks', 1, 'headers', 'Authorization'],
        msg: SECRET_REFUSED_MESSAGE,
        type: 'secret_refused',
      },
      { loc: ['body', 'token'], msg: SECRET_REFUSED_MESSAGE, type: 'secret_refused' },
    ]);
  });

  it('reports a secret field once, without looking inside it', () => {
    expect(findSecretFields({ credentials: { password: 'p', token: 't' } }, 'body')).toHaveLength(1);
  });

  it('walks a value nested 100,000 levels deep without overflowing the stack', () => {
    let value: unknown = { password: 'p' };
    for (let i = 0; i < 100_000; i++) value = [value];
    const found = findSecretFields(value, 'body');
    expect(found).toHaveLength(1);
    expect(found[0]!.loc).toHaveLength(100_002);
    expect(found[0]!.loc.at(-1)).toBe('password');
  });

  it('says that keys are never sent to the API', () => {
    expect(SECRET_REFUSED_MESSAGE).toMatch(/never sent to the API/);
  });
});
