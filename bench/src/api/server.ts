/**
 * A server process of bench:api (forked by the bench, one per side): starts the real API app or the bare
 * baseline, reports its port over IPC, and answers `cpu` with process.cpuUsage(), so the bench can charge
 * each round's CPU to the requests it served. Its stdout is the API's log (the bench points it at a file).
 */
import { startBare } from './bare';
import { startOurs } from './ours';
import { type ServerReport, type ServerSettings } from './server-settings';

async function main() {
  const settings = JSON.parse(process.argv[2]!) as ServerSettings;
  const server = await (settings.side === 'ours' ? startOurs(settings) : startBare(settings));
  const send = (report: ServerReport) => process.send!(report);
  process.on('message', (message: { type: string }) => {
    if (message.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage() });
    if (message.type === 'stop') {
      void server.close().finally(() => process.exit(0));
    }
  });
  // The bench went away (crashed or was killed): do not outlive it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: server.port, apiKey: server.apiKey });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench:api server failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
