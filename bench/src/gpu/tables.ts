import { count, fixed, table } from '../support/report';
import { ratio } from '../support/stats';
import { type BareRun } from './bare-run';
import { type GpuSettings, type PoolRun } from './pool-run';

/** Issue #3: the pool keeps the GPUs at least 95 % busy, and never sends an endpoint more than it allows. */
export const THROUGHPUT_TARGET = 0.95;
export const MAX_IN_FLIGHT = 1;

export interface GpuRow {
  settings: GpuSettings;
  /** S / L: what S endpoints taking L each can do at best, images per second. */
  limit: number;
  ours: PoolRun;
  bare: BareRun;
  oursOfLimit: number;
  bareOfLimit: number;
  oursOfBare: number;
  maxInFlight: number;
  withinTarget: boolean;
}

export function gpuRow(settings: GpuSettings, ours: PoolRun, bare: BareRun): GpuRow {
  const limit = settings.endpoints / (settings.imageMs / 1000);
  const maxInFlight = Math.max(...ours.inFlightMaxMetric, ...ours.inFlightMaxProbe);
  const oursOfLimit = ratio(ours.imagesPerSecond, limit);
  return {
    settings,
    limit,
    ours,
    bare,
    oursOfLimit,
    bareOfLimit: ratio(bare.imagesPerSecond, limit),
    oursOfBare: ratio(ours.imagesPerSecond, bare.imagesPerSecond),
    maxInFlight,
    withinTarget: oursOfLimit >= THROUGHPUT_TARGET && maxInFlight <= MAX_IN_FLIGHT,
  };
}

export function gpuTable(rows: GpuRow[]): string {
  return table(
    [
      'S',
      'jobs',
      'limit S/L (img/s)',
      'ours (img/s)',
      'ours ÷ limit',
      'bare (img/s)',
      'bare ÷ limit',
      'ours ÷ bare',
      'in flight max (metric / probe)',
      'inference ms (mean)',
      'ours wall (s)',
      `≥ ${THROUGHPUT_TARGET} and ≤ ${MAX_IN_FLIGHT}`,
    ],
    rows.map((r) => [
      String(r.settings.endpoints),
      count(r.settings.jobs),
      fixed(r.limit, 2),
      fixed(r.ours.imagesPerSecond, 2),
      fixed(r.oursOfLimit, 3),
      fixed(r.bare.imagesPerSecond, 2),
      fixed(r.bareOfLimit, 3),
      fixed(r.oursOfBare, 3),
      `${Math.max(...r.ours.inFlightMaxMetric)} / ${Math.max(...r.ours.inFlightMaxProbe)}`,
      fixed(r.ours.inferenceMsMean, 1),
      fixed(r.ours.wallSeconds, 1),
      r.withinTarget ? 'yes' : 'NO',
    ]),
  );
}
