import { z } from 'zod';
import { MAX_JSON_DEPTH, findUnsafeJson, issuesToDetail, summarizeDetail } from './validation';

const detailOf = (schema: z.ZodType, value: unknown) => {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) throw new Error('expected a failure');
  return issuesToDetail(result.error.issues, 'body');
};

describe('issuesToDetail', () => {
  const schema = z.strictObject({
    name: z.string().min(1).max(3),
    width: z.number().int().min(64).max(2048).multipleOf(8).optional(),
    mode: z.enum(['a', 'b']).optional(),
    tags: z.array(z.string()).max(1).optional(),
  });

  it.each<[string, unknown, { loc: (string | number)[]; msg: string; type: string }]>([
    ['a missing field', {}, { loc: ['body', 'name'], msg: 'is required', type: 'missing' }],
    [
      'a wrong type',
      { name: 5 },
      { loc: ['body', 'name'], msg: 'must be a string, not a number', type: 'invalid_type' },
    ],
    [
      'null',
      { name: null },
      { loc: ['body', 'name'], msg: 'must be a string, not null', type: 'invalid_type' },
    ],
    [
      'an array',
      { name: [] },
      { loc: ['body', 'name'], msg: 'must be a string, not an array', type: 'invalid_type' },
    ],
    [
      'a short string',
      { name: '' },
      { loc: ['body', 'name'], msg: 'must be at least 1 character long', type: 'too_short' },
    ],
    [
      'a long string',
      { name: 'abcd' },
      { loc: ['body', 'name'], msg: 'must be at most 3 characters long', type: 'too_long' },
    ],
    [
      'a small number',
      { name: 'a', width: 8 },
      { loc: ['body', 'width'], msg: 'must be at least 64', type: 'too_small' },
    ],
    [
      'a big number',
      { name: 'a', width: 4096 },
      { loc: ['body', 'width'], msg: 'must be at most 2048', type: 'too_big' },
    ],
    [
      'a fraction',
      { name: 'a', width: 64.5 },
      { loc: ['body', 'width'], msg: 'must be an integer, not a fractional number', type: 'invalid_type' },
    ],
    [
      'Infinity',
      { name: 'a', width: Infinity },
      { loc: ['body', 'width'], msg: 'must be a finite number', type: 'invalid_type' },
    ],
    [
      'NaN',
      { name: 'a', width: NaN },
      { loc: ['body', 'width'], msg: 'must be a number', type: 'invalid_type' },
    ],
    [
      'a non-multiple',
      { name: 'a', width: 100 },
      { loc: ['body', 'width'], msg: 'must be a multiple of 8', type: 'multiple_of' },
    ],
    [
      'an unknown enum value',
      { name: 'a', mode: 'c' },
      { loc: ['body', 'mode'], msg: 'must be one of: a, b', type: 'enum' },
    ],
    [
      'too many items',
      { name: 'a', tags: ['x', 'y'] },
      { loc: ['body', 'tags'], msg: 'must have at most 1 items', type: 'too_long' },
    ],
    [
      'an unknown field',
      { name: 'a', extra: 1 },
      { loc: ['body', 'extra'], msg: 'unknown field', type: 'extra_forbidden' },
    ],
  ])('describes %s in words a person can act on', (_label, value, expected) => {
    expect(detailOf(schema, value)).toContainEqual(expected);
  });

  it('names a wrong type for the whole value at the root', () => {
    expect(detailOf(schema, 42)).toEqual([
      { loc: ['body'], msg: 'must be an object, not a number', type: 'invalid_type' },
    ]);
  });
});

describe('summarizeDetail', () => {
  it('joins the first five problems and counts the rest', () => {
    const detail = Array.from({ length: 7 }, (_, i) => ({ loc: ['body', `f${i}`], msg: 'bad', type: 't' }));
    expect(summarizeDetail(detail)).toBe('f0: bad; f1: bad; f2: bad; f3: bad; f4: bad; and 2 more');
  });

  it('names the root when the whole value is wrong', () => {
    expect(summarizeDetail([{ loc: ['body'], msg: 'is required', type: 'missing' }])).toBe(
      'body: is required',
    );
  });

  it('joins nested paths with dots', () => {
    expect(summarizeDetail([{ loc: ['body', 'adapter', 'loras', 0, 'weight'], msg: 'x', type: 't' }])).toBe(
      'adapter.loras.0.weight: x',
    );
  });
});

describe('findUnsafeJson', () => {
  const nest = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  };

  it('accepts ordinary values, primitives and dotted keys', () => {
    expect(findUnsafeJson({ name: 'x', extra: { 'a.b': [1, { c: null }] } }, 'body')).toEqual([]);
    for (const value of [null, undefined, 1, 'x']) expect(findUnsafeJson(value, 'body')).toEqual([]);
  });

  it(`accepts ${MAX_JSON_DEPTH} levels and refuses one more, naming where`, () => {
    expect(findUnsafeJson(nest(MAX_JSON_DEPTH), 'body')).toEqual([]);
    const found = findUnsafeJson(nest(MAX_JSON_DEPTH + 1), 'body');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      type: 'too_deep',
      loc: ['body', ...Array<string>(MAX_JSON_DEPTH).fill('a')],
    });
  });

  it('stops at the first too-deep value of a body nested 1,000,000 levels, quickly', () => {
    let value: unknown = [];
    for (let i = 0; i < 1_000_000; i++) value = [value];
    const started = Date.now();
    expect(findUnsafeJson(value, 'body')).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses __proto__, keys starting with $ and keys with a NUL byte, at any depth', () => {
    const value = JSON.parse(
      '{"ok":{"__proto__":{"x":1},"$set":1,"list":[{"a\\u0000b":1}],"a$b":2}}',
    ) as unknown;
    expect(findUnsafeJson(value, 'body').map((d) => [d.loc, d.type])).toEqual([
      [['body', 'ok', '__proto__'], 'invalid_key'],
      [['body', 'ok', '$set'], 'invalid_key'],
      [['body', 'ok', 'list', 0, 'a\u0000b'], 'invalid_key'],
    ]);
  });
});
