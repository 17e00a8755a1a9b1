import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

const COMPONENT_PREFIX = '#/components/schemas/';
export const componentUri = (id: string) => `${COMPONENT_PREFIX}${id}`;

const options = (io: 'input' | 'output') =>
  ({ target: 'draft-2020-12', io, unrepresentable: 'any' }) as const;

/** Replaces every `{ $ref: '#/$defs/X' }` with the definition itself (the contract has no cycles). */
function inlineDefs(node: unknown, defs: Record<string, unknown>, depth = 0): unknown {
  if (depth > 64) throw new Error('openapi: a request schema nests too deep (a cycle?)');
  if (Array.isArray(node)) return node.map((item) => inlineDefs(item, defs, depth + 1));
  if (!node || typeof node !== 'object') return node;
  const { $ref, ...rest } = node as JsonSchema;
  const name = typeof $ref === 'string' && $ref.startsWith('#/$defs/') ? $ref.slice(8) : undefined;
  const resolved: JsonSchema = name ? { ...(defs[name] as JsonSchema), ...rest } : (node as JsonSchema);
  return Object.fromEntries(
    Object.entries(resolved).map(([key, value]) => [key, inlineDefs(value, defs, depth + 1)]),
  );
}

/**
 * Drops `additionalProperties: false` from a response shape. zod's output form closes every object (its
 * parse strips unknown keys), but a response may gain fields in a later version, and a client that
 * validates against a closed shape would then refuse it; clients ignore fields they do not know.
 */
function openObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(openObjects);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'additionalProperties' && value === false))
      .map(([key, value]) => [key, openObjects(value)]),
  );
}

/**
 * A request schema as a client writes it (zod's input type: a field with a default is optional), with
 * the named schemas inside it inlined rather than referenced. Generators treat a referenced component as
 * a response shape: openapi-typescript makes every property with a `default` required there, so
 * `{ prompt, profile_id }` would not typecheck against a referenced GenerateImageRequest.
 */
export function requestSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _s, $defs, ...root } = z.toJSONSchema(schema, options('input')) as JsonSchema;
  return inlineDefs(root, ($defs ?? {}) as Record<string, unknown>) as JsonSchema;
}

/**
 * A response schema as the server writes it (zod's output type: a field with a default is always there):
 * a named schema becomes a reference to its component; an unnamed one is inlined, with the named schemas
 * inside it pointed at their components.
 */
export function responseSchema(schema: z.ZodType): JsonSchema {
  const id = z.globalRegistry.get(schema)?.id;
  if (id) return { $ref: componentUri(id) };
  const { $schema: _s, $defs: _d, ...rest } = z.toJSONSchema(schema, options('output')) as JsonSchema;
  return openObjects(
    JSON.parse(
      JSON.stringify(rest).replace(/"#\/\$defs\/([^"]+)"/g, (_m, name: string) =>
        JSON.stringify(componentUri(name)),
      ),
    ),
  ) as JsonSchema;
}

/** Every named schema of the contract, in its output form, keyed by id. */
export function outputComponents(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, { ...options('output'), uri: componentUri });
  const components: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    components[id] = openObjects(rest) as JsonSchema;
  }
  return components;
}

/** The ids of the components `root` refers to, directly or through other components. */
export function referencedComponents(root: unknown, components: Record<string, JsonSchema>): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_PREFIX)) {
        const id = value.slice(COMPONENT_PREFIX.length);
        if (!found.has(id)) {
          found.add(id);
          visit(components[id]);
        }
      } else visit(value);
    }
  };
  visit(root);
  return found;
}
