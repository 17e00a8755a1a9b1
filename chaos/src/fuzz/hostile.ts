import fc from 'fast-check';

/** How a body is made; big ones are built only when sent, so thousands of samples stay cheap to hold. */
export type BodySpec =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: number[] }
  | { kind: 'deep'; depth: number; open: string; close: string }
  | { kind: 'huge'; bytes: number }
  | { kind: 'wide'; count: number };

export function bodyBytes(spec: BodySpec): Buffer | undefined {
  switch (spec.kind) {
    case 'none':
      return undefined;
    case 'json':
      return Buffer.from(JSON.stringify(spec.value) ?? 'null', 'utf8');
    case 'text':
      return Buffer.from(spec.text, 'utf8');
    case 'bytes':
      return Buffer.from(spec.bytes);
    case 'deep':
      return Buffer.from(`${spec.open.repeat(spec.depth)}1${spec.close.repeat(spec.depth)}`);
    case 'huge':
      return Buffer.from(`{"prompt":"${'a'.repeat(spec.bytes)}"}`);
    case 'wide':
      return Buffer.from(`{${Array.from({ length: spec.count }, (_, i) => `"k${i}":${i}`).join(',')}}`);
  }
}

/** JSON that is valid but hostile, or text that is almost JSON. */
export const hostileBody: fc.Arbitrary<BodySpec> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((value): BodySpec => ({ kind: 'json', value })),
  fc
    .constantFrom(
      '{"__proto__":{"polluted":true},"prompt":"x"}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"prompt":"a","prompt":1}',
      '{"prompt":"\\ud800"}',
      '{"width":1e309,"height":-0,"seed":1e-400}',
      '{"seed":123456789012345678901234567890}',
      '{"prompt":"x",}',
      '{"prompt":"x"',
      "{'prompt':'x'}",
      '\ufeff{"prompt":"x"}',
      'null',
      'true',
      '[]',
      '""',
      '0',
      '{"name":{"$gt":""},"profile_ids":{"$ne":null}}',
      '{"metadata":{"a.b":1,"$where":"1"}}',
      '{"callback_url":"http://169.254.169.254/latest/meta-data/"}',
      '{"callback_url":"http://[::ffff:127.0.0.1]:1/x"}',
    )
    .map((text): BodySpec => ({ kind: 'text', text })),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text): BodySpec => ({ kind: 'text', text })),
  fc
    .array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 })
    .map((bytes): BodySpec => ({ kind: 'bytes', bytes })),
  fc
    .tuple(
      fc.integer({ min: 100, max: 200_000 }),
      fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}']),
    )
    .map(([depth, [open, close]]): BodySpec => ({ kind: 'deep', depth, open, close })),
  fc.integer({ min: 10, max: 50_000 }).map((count): BodySpec => ({ kind: 'wide', count })),
);

/** Mostly just over or under the 1 MB body limit; rare, since each costs a megabyte on the wire. */
export const hugeBody: fc.Arbitrary<BodySpec> = fc
  .constantFrom(900_000, 1_048_560, 1_100_000, 3_000_000)
  .map((bytes): BodySpec => ({ kind: 'huge', bytes }));

/** Path segments no id can be: percent-encoding tricks, traversal, huge, broken escapes. */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom(
    '..',
    '%2e%2e',
    '%2F',
    '%00',
    '%',
    '%E0%A4%A',
    '%ff',
    '.',
    ';',
    '%20',
    'null',
    'undefined',
    '-1',
    '0x10',
    'prof_',
    'job_' + 'f'.repeat(40),
    'constructor',
    '__proto__',
  ),
  fc.integer({ min: 300, max: 9000 }).map((n) => 'a'.repeat(n)),
);

/** Header values, including bytes Node's own client refuses to send (raw-http writes them as they are). */
export const oddHeaderValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
  fc.constantFrom('', ' ', '\t', 'é', 'Ω', '\x01', '\x7f', 'a\x00b', '"', 'null', '*', 'W/"1"', '"1"', '1'),
  fc.integer({ min: 8_000, max: 20_000 }).map((n) => 'k'.repeat(n)),
);

export const contentType: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 14, arbitrary: fc.constant('application/json') },
  {
    weight: 6,
    arbitrary: fc.constantFrom<string | null>(
      null,
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/vnd.api+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'APPLICATION/JSON',
    ),
  },
  { weight: 1, arbitrary: oddHeaderValue },
);

export const idempotencyKey: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 10, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.uuid() },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.constantFrom('a'.repeat(255), 'a'.repeat(256), '', ' ', 'key with spaces', 'ключ', '\x01'),
      oddHeaderValue,
    ),
  },
);
