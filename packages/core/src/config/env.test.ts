import { z } from 'zod';
import { ConfigError, envFlag, parseEnv } from './env';

describe('envFlag', () => {
  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['YES', true],
    ['On', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['OFF', false],
  ])('reads %j as %s', (raw, expected) => {
    expect(envFlag.parse(raw)).toBe(expected);
  });

  it.each(['maybe', ' yes', '2', 'enabled'])('refuses %j, listing what it accepts', (raw) => {
    const result = envFlag.safeParse(raw);
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toBe(
      'Invalid option: expected one of "true"|"1"|"yes"|"on"|"false"|"0"|"no"|"off"',
    );
  });

  it('is false when unset, given .default(false)', () => {
    expect(z.object({ FLAG: envFlag.default(false) }).parse({})).toEqual({ FLAG: false });
  });

  it('leaves whole-object checks running, so one message names a bad flag and the other problems', () => {
    const schema = z
      .object({ FLAG: envFlag.default(false), STORE: z.string().optional(), BUCKET: z.string().optional() })
      .check(
        z.refine<{ STORE?: unknown; BUCKET?: unknown }>((c) => c.STORE !== 's3' || c.BUCKET !== undefined, {
          path: ['BUCKET'],
          message: 'is required when STORE=s3',
          when: () => true,
        }),
      );
    let refused: unknown;
    try {
      parseEnv(schema, { FLAG: 'maybe', STORE: 's3' });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual([
      'FLAG: Invalid option: expected one of "true"|"1"|"yes"|"on"|"false"|"0"|"no"|"off" (got "maybe")',
      'BUCKET: is required when STORE=s3',
    ]);
  });
});
