import { type ErrorDetail, type Profile, type ProfileCreate, type ProfilePatch } from '@castforge/client';

/** The profile form's fields, each as the text its control holds. Nested fields use dotted keys. */
export const FIELD_KEYS = [
  'name',
  'description',
  'tags',
  'prompt_template',
  'prompt_template_mode',
  'negative_prompt',
  'steps',
  'cfg_scale',
  'seed_strategy',
  'fixed_seed',
  'width',
  'height',
  'output_format',
  'adapter.model',
  'adapter.identity_adapter',
  'adapter.identity_strength',
  'adapter.loras',
  'adapter.extra',
  'storage.provider',
  'storage.bucket',
  'storage.prefix',
  'storage.region',
  'storage.endpoint',
] as const;
export type FieldKey = (typeof FIELD_KEYS)[number];
export type FormValues = Record<FieldKey, string>;

const NUMBER_FIELDS = new Set<FieldKey>([
  'steps',
  'cfg_scale',
  'fixed_seed',
  'width',
  'height',
  'adapter.identity_strength',
]);
const ADAPTER_KEYS = FIELD_KEYS.filter((k) => k.startsWith('adapter.'));
const STORAGE_KEYS = FIELD_KEYS.filter((k) => k.startsWith('storage.'));
const TOP_KEYS = FIELD_KEYS.filter((k) => !k.includes('.'));

export const emptyForm = (): FormValues => {
  const values = Object.fromEntries(FIELD_KEYS.map((k) => [k, ''])) as FormValues;
  values.prompt_template_mode = 'suffix';
  values.seed_strategy = 'random';
  return values;
};

/** A saved value as its control shows it (the API returns strings, numbers and plain objects only). */
const text = (value: string | number | object | null | undefined): string =>
  value === undefined || value === null
    ? ''
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value);

/** The form as it shows a saved profile. */
export function formFromProfile(profile: Profile): FormValues {
  const s = profile.adapter_snapshot;
  const a = s.adapter ?? {};
  const values = emptyForm();
  Object.assign(values, {
    name: profile.name,
    description: text(profile.description),
    tags: profile.tags.join(', '),
    prompt_template: text(s.prompt_template),
    prompt_template_mode: s.prompt_template_mode,
    negative_prompt: text(s.negative_prompt),
    steps: text(s.steps),
    cfg_scale: text(s.cfg_scale),
    seed_strategy: s.seed_strategy,
    fixed_seed: text(s.fixed_seed),
    width: text(s.width),
    height: text(s.height),
    output_format: text(s.output_format),
    'adapter.model': text(a.model),
    'adapter.identity_adapter': text(a.identity_adapter),
    'adapter.identity_strength': text(a.identity_strength),
    'adapter.loras': (a.loras ?? []).map((l) => `${l.name}:${l.weight}`).join('\n'),
    'adapter.extra': a.extra ? JSON.stringify(a.extra, null, 2) : '',
    'storage.provider': text(profile.storage?.provider),
    'storage.bucket': text(profile.storage?.bucket),
    'storage.prefix': text(profile.storage?.prefix),
    'storage.region': text(profile.storage?.region),
    'storage.endpoint': text(profile.storage?.endpoint),
  } satisfies Partial<FormValues>);
  return values;
}

/** A problem found before sending (only what cannot be sent at all; the API checks everything else). */
export class FormError extends Error {
  constructor(
    readonly field: FieldKey,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A number when the text is one; otherwise the text itself, so the API answers with its own message for
 * the field (e.g. "expected number") rather than the console inventing one.
 */
const numberOrText = (value: string): number | string => {
  const trimmed = value.trim();
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
};

function fieldValue(key: FieldKey, raw: string): unknown {
  const value = raw.trim();
  if (key === 'tags')
    return value
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  if (key === 'adapter.loras')
    return value
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const at = line.lastIndexOf(':');
        return at < 0
          ? { name: line, weight: 1 }
          : { name: line.slice(0, at).trim(), weight: numberOrText(line.slice(at + 1)) };
      });
  if (key === 'adapter.extra') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw new FormError(key, 'must be a JSON object, e.g. {"sampler": "euler"}');
    }
  }
  if (NUMBER_FIELDS.has(key)) return numberOrText(value);
  // Multi-line text keeps its inner whitespace; only the edges are trimmed.
  return key === 'prompt_template' || key === 'negative_prompt' || key === 'description' ? raw.trim() : value;
}

const group = (values: FormValues, keys: readonly FieldKey[]) => {
  const filled = keys.filter((k) => values[k].trim() !== '');
  if (!filled.length) return null;
  return Object.fromEntries(filled.map((k) => [k.split('.')[1]!, fieldValue(k, values[k])]));
};

/** The create body: only the fields filled in (the API applies its defaults to the rest). */
export function createBody(values: FormValues): ProfileCreate {
  const body: Record<string, unknown> = {};
  for (const key of TOP_KEYS) if (values[key].trim() !== '') body[key] = fieldValue(key, values[key]);
  const adapter = group(values, ADAPTER_KEYS);
  const storage = group(values, STORAGE_KEYS);
  if (adapter) body.adapter = adapter;
  if (storage) body.storage = storage;
  return body as ProfileCreate;
}

/** The PATCH body: only what changed since `before`; a field emptied is sent as null, which clears it. */
export function patchBody(before: FormValues, after: FormValues): ProfilePatch {
  const body: Record<string, unknown> = {};
  for (const key of TOP_KEYS) {
    if (before[key] === after[key]) continue;
    body[key] = after[key].trim() === '' ? (key === 'tags' ? [] : null) : fieldValue(key, after[key]);
  }
  if (ADAPTER_KEYS.some((k) => before[k] !== after[k])) body.adapter = group(after, ADAPTER_KEYS);
  if (STORAGE_KEYS.some((k) => before[k] !== after[k])) body.storage = group(after, STORAGE_KEYS);
  return body;
}

/**
 * Puts each message of a 422's `detail` next to the field its `loc` names (SPEC §8): the longest field key
 * that starts the path wins, and what is left of the path prefixes the message (`adapter.loras` gets
 * "line 2 weight: …"). Messages that name no field of the form go to `form`.
 */
export function errorsByField(detail: readonly ErrorDetail[]): {
  fields: Partial<Record<FieldKey, string>>;
  form: string[];
} {
  const fields: Partial<Record<FieldKey, string>> = {};
  const form: string[] = [];
  for (const d of detail) {
    const path = d.loc[0] === 'body' ? d.loc.slice(1) : d.loc;
    const dotted = path.map(String);
    let key: FieldKey | undefined;
    let rest: string[] = [];
    for (let n = Math.min(dotted.length, 2); n >= 1; n--) {
      const candidate = dotted.slice(0, n).join('.');
      if ((FIELD_KEYS as readonly string[]).includes(candidate)) {
        key = candidate as FieldKey;
        rest = dotted.slice(n);
        break;
      }
    }
    if (!key) {
      form.push(dotted.length ? `${dotted.join('.')}: ${d.msg}` : d.msg);
      continue;
    }
    const where =
      rest.length && /^\d+$/.test(rest[0]!)
        ? `${key === 'tags' ? 'tag' : 'line'} ${Number(rest[0]) + 1}${rest.length > 1 ? ` ${rest.slice(1).join('.')}` : ''}: `
        : rest.length
          ? `${rest.join('.')}: `
          : '';
    const message = `${where}${d.msg}`;
    fields[key] = fields[key] ? `${fields[key]}; ${message}` : message;
  }
  return { fields, form };
}
