import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

/** Reads a JSON or YAML file (by extension; YAML is a superset of JSON, so anything else is read as YAML). */
export async function readData(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return path.extname(file).toLowerCase() === '.json'
      ? (JSON.parse(text) as unknown)
      : (parseYaml(text) as unknown);
  } catch (err) {
    throw new Error(
      `${file} is not valid ${path.extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A roster: `profiles: [...]`, or a bare list of profile bodies (each needs a `name`). */
export function rosterProfiles(data: unknown, file: string): Record<string, unknown>[] {
  const list = Array.isArray(data) ? data : isRecord(data) ? data.profiles : undefined;
  if (!Array.isArray(list) || !list.length)
    throw new Error(`${file}: expected a list of profiles (or "profiles:" with one)`);
  return list.map((item, i) => {
    if (!isRecord(item) || typeof item.name !== 'string' || !item.name) {
      throw new Error(`${file}: profile ${i + 1} needs a name`);
    }
    return item;
  });
}

/** A scene file: `scenes: [...]` (with optional `name`, `variants`), or a bare list of scenes. */
export function sceneFile(
  data: unknown,
  file: string,
): { scenes: Record<string, unknown>[]; name?: string; variants?: number } {
  const scenes = Array.isArray(data) ? data : isRecord(data) ? data.scenes : undefined;
  if (!Array.isArray(scenes) || !scenes.length)
    throw new Error(`${file}: expected a list of scenes (or "scenes:" with one)`);
  const top = isRecord(data) ? data : {};
  return {
    scenes: scenes.map((scene, i) => {
      if (!isRecord(scene)) throw new Error(`${file}: scene ${i + 1} must be an object`);
      return scene;
    }),
    ...(typeof top.name === 'string' && { name: top.name }),
    ...(typeof top.variants === 'number' && { variants: top.variants }),
  };
}
