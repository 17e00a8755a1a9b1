/**
 * Preloaded into the worker process (node --expose-gc -r …/gc-hook.js): on SIGUSR2 it runs a full garbage
 * collection and writes process.memoryUsage() to stderr as one `BENCH_MEMORY {…}` line, so RSS is read
 * after garbage is gone rather than whenever V8 last collected. Touches nothing of the worker's own.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stderr.write(`BENCH_MEMORY ${JSON.stringify(process.memoryUsage())}\n`);
});
