import { ConfigError } from '@castforge/core';
import { parseFlags, settle } from './options';
import { printReport } from './verify/report';
import { runChaos } from './run';
import { print, stepper } from './support/print';

/**
 * `npm run chaos` (issue #8): proves the job lifecycle against the public surface (HTTP API, processes,
 * env vars) under SIGKILLed workers, a Redis restart and a frozen MongoDB; exits non-zero on any broken
 * invariant. `--quick` runs the same in under a minute.
 */
async function main(): Promise<number> {
  // Ctrl-C: exit, and the reaper kills every server and app this run started.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  const settings = settle(parseFlags(process.argv.slice(2)));
  const step = stepper(Date.now());
  print(
    `chaos${settings.quick ? ' --quick' : ''}: ${settings.loadSeconds} s of load with faults, at most ${settings.drainSeconds} s of drain, ${settings.fuzzRuns} fuzzed requests`,
  );
  const result = await runChaos(settings, step);
  printReport(result);
  const failed = result.verdicts.some((v) => !v.pass) || !!result.fuzz?.findings.length;
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const text =
      err instanceof ConfigError
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err);
    process.stderr.write(`chaos failed: ${text}\n`);
    process.exit(2);
  },
);
