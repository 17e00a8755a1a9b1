import fc from 'fast-check';
import { type JsonSchema } from './openapi-routes';

export interface SchemaContext {
  resolve(schema: JsonSchema): JsonSchema;
  /** Ids the fuzzer knows exist (its own profiles, jobs, campaigns…), by prefix: `prof`, `job`, `camp`. */
  ids(prefix: string): readonly string[];
  /** Values for `format: uri` fields: callback URLs that are accepted, and ones the SSRF guard refuses. */
  urls: readonly string[];
}

const ID_PATTERN = /^\^([a-z]+)_\[0-9a-f\]\{(\d+)\}\$$/;

/** A known id of this prefix when there is one, else a well-formed random one. */
const idArbitrary = (ctx: SchemaContext, prefix: string, hexDigits: number) =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .nat()
        .map(
          (n) =>
            ctx.ids(prefix)[n % Math.max(1, ctx.ids(prefix).length)] ?? `${prefix}_${'0'.repeat(hexDigits)}`,
        ),
    },
    { weight: 1, arbitrary: fc.stringMatching(new RegExp(`^${prefix}_[0-9a-f]{${hexDigits}}$`)) },
  );

function integerArbitrary(s: JsonSchema): fc.Arbitrary<number> {
  const step = s.multipleOf && Number.isInteger(s.multipleOf) ? s.multipleOf : 1;
  const min = Math.ceil((s.minimum ?? (s.exclusiveMinimum ?? -1_000_001) + 1) / step);
  const max = Math.floor((s.maximum ?? (s.exclusiveMaximum ?? 1_000_001) - 1) / step);
  const full = fc.integer({ min, max }).map((n) => n * step);
  // Mostly near the minimum: a 2048×2048 image is valid but costs the GPU stub and the worker real CPU.
  const low = fc.integer({ min, max: Math.min(max, min + Math.ceil((max - min) / 16)) }).map((n) => n * step);
  return fc.oneof(
    { weight: 6, arbitrary: low },
    { weight: 1, arbitrary: full },
    { weight: 1, arbitrary: fc.constantFrom(min * step, max * step) },
  );
}

/**
 * Values that satisfy (or nearly satisfy) a JSON Schema from /openapi.json: the bodies a real client sends,
 * so requests get past validation into the handlers. Strings stay short, arrays small; ids come from the
 * fuzzer's own resources when the pattern asks for an id.
 */
export function validish(schema: JsonSchema, ctx: SchemaContext, depth = 0): fc.Arbitrary<unknown> {
  const s = ctx.resolve(schema);
  if (depth > 6) return fc.constant(null);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((alt) => validish(alt, ctx, depth + 1)));
  if (s.allOf?.length) return validish(s.allOf[0]!, ctx, depth + 1);
  if (Array.isArray(s.type)) return fc.oneof(...s.type.map((type) => validish({ ...s, type }, ctx, depth)));
  switch (s.type) {
    case 'string': {
      if (s.format === 'uri' && ctx.urls.length) return fc.constantFrom(...ctx.urls);
      const id = s.pattern ? ID_PATTERN.exec(s.pattern) : null;
      if (id) return idArbitrary(ctx, id[1]!, Number(id[2]));
      if (s.pattern) {
        try {
          return fc.stringMatching(new RegExp(s.pattern), { maxLength: s.maxLength ?? 40 });
        } catch {
          return fc.string({ maxLength: 20 });
        }
      }
      const minLength = s.minLength ?? 0;
      const maxLength = Math.max(minLength, Math.min(s.maxLength ?? 40, 40));
      return fc.oneof(
        { weight: 8, arbitrary: fc.string({ minLength, maxLength, unit: 'grapheme' }) },
        { weight: 1, arbitrary: fc.string({ minLength, maxLength, unit: 'binary' }) },
        // The exact limit, where off-by-one bugs live.
        { weight: 1, arbitrary: fc.constant('x'.repeat(s.maxLength ?? 200)) },
      );
    }
    case 'integer':
      return integerArbitrary(s);
    case 'number':
      return fc.double({
        min: s.minimum ?? -1e6,
        max: s.maximum ?? 1e6,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(validish(s.items ?? {}, ctx, depth + 1), {
        minLength: s.minItems ?? 0,
        maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 4, 4)),
      });
    case 'object': {
      const properties = s.properties ?? {};
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, validish(v, ctx, depth + 1)])),
        { requiredKeys: (s.required ?? []).filter((k) => k in properties) },
      );
      if (s.additionalProperties === false || Object.keys(properties).length) return record;
      return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/**
 * A valid-looking body with one thing wrong: a field of the wrong type, a required field dropped, an
 * unknown field added, or a field set to null.
 */
export function mutated(schema: JsonSchema, ctx: SchemaContext): fc.Arbitrary<unknown> {
  return fc
    .tuple(
      validish(schema, ctx),
      fc.jsonValue({ maxDepth: 3 }),
      fc.nat(),
      fc.constantFrom('replace', 'drop', 'add', 'null'),
    )
    .map(([value, junk, pick, how]) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return junk;
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      const keys = Object.keys(copy);
      const key = keys[pick % Math.max(1, keys.length)] ?? 'unexpected';
      if (how === 'drop') delete copy[key];
      else if (how === 'add') copy[`x_${pick % 97}`] = junk;
      else copy[key] = how === 'null' ? null : junk;
      return copy;
    });
}
