/** The chaos command's only output channel (ESLint forbids console; the apps log through pino). */
export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A progress line with the seconds since the run started, so a long phase never looks like a hang. */
export const stepper = (startedAt: number) => (text: string) =>
  print(`· ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s  ${text}`);

/** A two-column table, left-aligned, readable in a terminal and pasteable into an issue. */
export function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

export const count = (n: number) => n.toLocaleString('en-US');
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
