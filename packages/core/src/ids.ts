import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const hex16 = () => randomBytes(8).toString('hex');

export const newProfileId = () => `prof_${hex16()}`;
export const newJobId = () => `job_${hex16()}`;
/** `count` ids like newJobId's, from one read of the random source (a campaign makes 1,000 at a time). */
export const newJobIds = (count: number) => {
  const bytes = randomBytes(count * 8);
  return Array.from({ length: count }, (_, i) => `job_${bytes.subarray(i * 8, i * 8 + 8).toString('hex')}`);
};
export const newCampaignId = () => `camp_${hex16()}`;
export const newRequestId = () => randomBytes(12).toString('base64url');

export const sha256Hex = (value: string | Buffer) => createHash('sha256').update(value).digest('hex');

export function safeEqualHex(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

export function safeEqualString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
