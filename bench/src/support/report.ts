import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** bench/results, next to bench/dist (git-ignored): one JSON file per run. */
const RESULTS_DIR = path.resolve(__dirname, '..', '..', 'results');

/** The benches' only output channel (ESLint forbids console; the apps log through pino instead). */
export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A progress line, so a minutes-long fill does not look like a hang. */
export const step = (text: string) => print(`· ${text}`);

/** A Markdown table with right-aligned cells, readable in a terminal and pasteable into an issue. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padStart(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => `${'-'.repeat(w + 1)}:`).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export const ms = (value: number) => (value >= 10 ? value.toFixed(1) : value.toFixed(3));
export const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
export const count = (value: number) => value.toLocaleString('en-US');

/** Where and on what the figures were measured, for the JSON file and the header line. */
export function machine(redisVersion: string) {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    redis: redisVersion,
  };
}

/** The entry points' last resort: a bad setting gets its message, anything else its stack. */
export function exitOnFailure(bench: string) {
  return (err: unknown) => {
    // Ctrl-C aborts the run on purpose; the interrupt handler cleans up and exits.
    if (err instanceof Error && err.name === 'AbortError') return;
    const text =
      err instanceof Error
        ? err.name === 'ConfigError'
          ? err.message
          : (err.stack ?? err.message)
        : String(err);
    process.stderr.write(`${bench} failed: ${text}\n`);
    process.exit(1);
  };
}

/** Sub-microsecond digits of a millisecond timing are noise; they only make the file hard to read. */
const fourDecimals = (_key: string, value: unknown) =>
  typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1e4) / 1e4 : value;

/** Writes bench/results/<name>-<timestamp>.json and returns its path. */
export async function writeResults(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(RESULTS_DIR, `${name}-${stamp}.json`);
  await writeFile(file, `${JSON.stringify(data, fourDecimals, 2)}\n`);
  return file;
}
