import { AUDIT_SOURCES, PERMANENT } from '../redis-audit';
import { type ChaosResult } from '../run';
import { count, print, seconds, table } from '../support/print';
import { fmt } from './invariants';

/** Prints the figures, the verdict per invariant and the fuzz findings. */
export function printReport(r: ChaosResult): void {
  const l = r.ledger;
  const singles = [...l.jobs.values()].filter((j) => j.source === 'single');
  const cancels = [...l.jobs.values()].filter((j) => j.cancel);
  const cancelTally = (kind: string) => {
    const asked = cancels.filter((j) => j.cancel!.kind === kind);
    return `${asked.length} (${asked.filter((j) => j.cancel!.answer === 202).length} accepted)`;
  };
  const campaigns = [...l.campaigns.values()].filter((c) => c.source === 'campaign');
  const fuzzJobs = [...l.jobs.values()].filter((j) => j.source === 'fuzz').length;
  const fuzzCampaignJobs = [...l.campaigns.values()]
    .filter((c) => c.source === 'fuzz')
    .reduce((n, c) => n + c.jobCount, 0);
  const f = r.figures;
  const statuses = new Map<string, number>();
  for (const job of r.readBack.jobs.values()) statuses.set(job.status, (statuses.get(job.status) ?? 0) + 1);

  print('\nFigures');
  print(
    table([
      ['seed', String(r.settings.seed)],
      [
        'jobs accepted',
        `${count(l.totalJobs())}: ${count(singles.length)} single (${singles.filter((j) => j.priority > 0).length} with priority, ${singles.filter((j) => j.held).length} held on a GPU), ${count(campaigns.reduce((n, c) => n + c.jobCount, 0))} in ${campaigns.length} campaigns, ${count(fuzzJobs + fuzzCampaignJobs)} from the fuzzer`,
      ],
      [
        'submits',
        `${count(l.counters.submits)}; answered after a retry ${l.counters.retriedSubmits}, never answered ${l.counters.lostSubmits}, refused ${l.counters.rejectedSubmits}; idempotent replays ${l.counters.replays}`,
      ],
      [
        'cancels',
        `queued ${cancelTally('queued')}, running ${cancelTally('running')}, campaign job ${cancelTally('campaign-job')}, campaigns ${campaigns.filter((c) => c.cancelAnswer !== null).length}`,
      ],
      ['final statuses', fmt(Object.fromEntries(statuses))],
      [
        'worker kills (SIGKILL)',
        `${r.faults.kills} (${fmt(r.faults.killsByWorker)}); WORKER_MAX_STALLED_COUNT ${r.settings.maxStalled.join('/')}`,
      ],
      ['process restarts', String(f.processRestarts)],
      [
        'Redis restarts (SIGKILL, AOF)',
        r.faults.redisRestarts.map((x) => `at ${seconds(x.atMs)}, down ${x.downMs} ms`).join('; ') || 'none',
      ],
      [
        'MongoDB freezes (SIGSTOP)',
        r.faults.mongoFreezes.map((x) => `at ${seconds(x.atMs)} for ${seconds(x.ms)}`).join('; ') || 'none',
      ],
      ['GPU calls', `${count(f.gpuCalls)} (at most ${f.maxOpenPerEndpoint} open per endpoint)`],
      ['webhook deliveries', `${count(f.deliveries)} POSTs, ${count(f.webhookIds)} webhook-ids`],
      ['HTTP answers to the driver', fmt(f.answeredByStatus)],
      ['slowest answer', `${Math.round(f.slowest.ms)} ms (${f.slowest.what})`],
      [
        'Redis after the run',
        `${count(r.audit.keys.total)} keys (${fmt(r.audit.keys.byClass)}), ${(r.audit.usedMemoryBytes / 2 ** 20).toFixed(1)} MiB`,
      ],
      [
        'durations',
        `${Object.entries(f.phasesMs)
          .map(([k, v]) => `${k} ${seconds(v)}`)
          .join(', ')}; total ${seconds(Object.values(f.phasesMs).reduce((a, b) => a + b, 0))}`,
      ],
    ]),
  );
  print(`\n  Redis is read through chaos/src/redis-audit.ts only: ${AUDIT_SOURCES.join('; ')}.`);
  print(`  Permanent keys allowed: ${PERMANENT.map((p) => p.name).join(', ')}.`);

  print('\nInvariants');
  for (const v of r.verdicts) {
    print(`  ${v.pass ? 'PASS' : 'FAIL'}  ${v.name}: ${v.figure}`);
    for (const e of v.examples) print(`          ${e}`);
  }
  if (r.fuzz) {
    const z = r.fuzz;
    const verdict = z.findings.length ? 'FAIL' : 'PASS';
    const cut = z.requests < z.planned ? ` (of ${count(z.planned)} planned: the time budget ran out)` : '';
    print(
      `  ${verdict}  fuzz: ${count(z.requests)} requests${cut} over ${z.routes} operations of /openapi.json in ${seconds(z.ms)}: ${fmt(z.byStatus)}; created ${z.created.jobs} jobs and ${z.created.campaigns} campaigns (cancelled); ${z.resets} resets while sending a large body to a route that reads none`,
    );
    for (const finding of z.findings.slice(0, 25)) {
      print(`          ${finding.count}× ${finding.what}`);
      print(`             e.g. ${finding.example.slice(0, 400)}`);
    }
    if (z.findings.length > 25) print(`          … ${z.findings.length - 25} more kinds`);
  }
  const failed = r.verdicts.filter((v) => !v.pass).length + (r.fuzz?.findings.length ? 1 : 0);
  print(
    `\n${failed ? `FAIL: ${failed} invariant(s) broken; logs kept in ${r.runDir}/logs` : 'PASS: every invariant held'}`,
  );
}
