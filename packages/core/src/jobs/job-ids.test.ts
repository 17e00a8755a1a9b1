import { INDEX_BITS, MAX_CAMPAIGN_NUMBER, createCampaignIds } from './job-ids';

const KEY = 'a1'.repeat(32);

describe('campaign and campaign-job ids (job-ids.ts)', () => {
  const ids = createCampaignIds(KEY);

  it('turn a campaign id back into its number, at the edges of the range too', () => {
    for (const n of [1, 2, 255, 256, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, MAX_CAMPAIGN_NUMBER]) {
      const id = ids.campaignId(n);
      expect(id).toMatch(/^camp_[0-9a-f]{16}$/);
      expect({ n, back: ids.campaignNumber(id) }).toEqual({ n, back: n });
    }
  });

  it('turn a job id back into its campaign number and index, at the edges of the range too', () => {
    const lastIndex = 2 ** INDEX_BITS - 1;
    for (const n of [1, 255, 256, 257, 2 ** 32, MAX_CAMPAIGN_NUMBER]) {
      for (const index of [0, 1, 999, 1000, lastIndex]) {
        const id = ids.jobId(n, index);
        expect(id).toMatch(/^job_[0-9a-f]{16}$/);
        expect(ids.parseJobId(id)).toEqual({ n, index });
      }
    }
  });

  it('give every (campaign, index) its own job id, and the same one every time (re-enqueuing makes no new job)', () => {
    const seen = new Set<string>();
    for (let n = 1; n <= 40; n++) {
      for (let index = 0; index < 250; index++) seen.add(ids.jobId(n, index));
    }
    expect(seen.size).toBe(40 * 250);
    // Another process with the same key derives the same ids.
    const elsewhere = createCampaignIds(KEY);
    expect(elsewhere.jobId(7, 123)).toBe(ids.jobId(7, 123));
    expect(elsewhere.campaignId(7)).toBe(ids.campaignId(7));
  });

  it('look unrelated to one another: neighbouring indexes share no obvious prefix', () => {
    const a = ids.jobId(3, 0).slice(4);
    const b = ids.jobId(3, 1).slice(4);
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same += 1;
    expect(same).toBeLessThan(8);
  });

  it('depend on the key: another deployment reads other numbers from them', () => {
    const other = createCampaignIds('b2'.repeat(32));
    expect(other.campaignId(5)).not.toBe(ids.campaignId(5));
    expect(other.jobId(5, 9)).not.toBe(ids.jobId(5, 9));
    expect(other.parseJobId(ids.jobId(5, 9))).not.toEqual({ n: 5, index: 9 });
  });

  it('refuse what is not a campaign id', () => {
    expect(ids.campaignNumber('camp_xyz')).toBeNull();
    expect(ids.campaignNumber('job_0123456789abcdef')).toBeNull();
    expect(ids.campaignNumber(`camp_${'0'.repeat(15)}`)).toBeNull();
    expect(ids.parseJobId('camp_0123456789abcdef')).toBeNull();
    expect(ids.parseJobId('job_0123')).toBeNull();
  });
});
