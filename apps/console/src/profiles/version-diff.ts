import { type Profile } from '@castforge/client';

export interface DiffRow {
  field: string;
  before: string;
  after: string;
  changed: boolean;
}

const show = (value: unknown): string =>
  value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);

/** A profile version as field → text, nested objects flattened to dotted names (`adapter.model`). */
export function flatten(profile: Profile): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (prefix: string, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
    } else {
      out.set(prefix, show(value));
    }
  };
  walk('', {
    name: profile.name,
    description: profile.description,
    tags: profile.tags.join(', '),
    ...profile.adapter_snapshot,
    storage: profile.storage,
  });
  return out;
}

/** Every field of either version, in a stable order, with whether it changed between them. */
export function diffVersions(before: Profile, after: Profile): DiffRow[] {
  const a = flatten(before);
  const b = flatten(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])];
  return fields
    .map((field) => ({ field, before: a.get(field) ?? '', after: b.get(field) ?? '' }))
    .filter((row) => row.before !== '' || row.after !== '')
    .map((row) => ({ ...row, changed: row.before !== row.after }));
}
