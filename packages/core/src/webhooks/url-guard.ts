import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { invalidParameters } from '../errors';
import { classifyAddress } from './address-policy';

export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolve: Resolve = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface UrlGuardOptions {
  /** CALLBACK_ALLOW_LOOPBACK: admit 127.0.0.0/8 and ::1 (and plain http to them), for local testing only. */
  allowLoopback: boolean;
  /** Injectable for tests; the system resolver otherwise. */
  resolve?: Resolve;
  /**
   * The setting a refusal of loopback names, for guards of other URLs than callbacks (input images:
   * INPUT_ALLOW_LOOPBACK). Default CALLBACK_ALLOW_LOOPBACK.
   */
  loopbackSetting?: string;
  /** How a refusal of credentials in the URL ends. Default: authenticate with the webhook signature. */
  credentialsHint?: string;
}

export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError';
}

/**
 * The SSRF guard for callback URLs (SPEC §6), used when a job is submitted and again before every delivery:
 * only http(s) (plain http only to loopback when allowed), no credentials in the URL, and every address the
 * host resolves to must be public. `vet` returns the address that passed, and the delivery connects to
 * exactly that address, so a DNS answer that changes between the check and the connection cannot redirect it.
 */
export function createUrlGuard(options: UrlGuardOptions) {
  const resolve = options.resolve ?? systemResolve;
  const loopbackSetting = options.loopbackSetting ?? 'CALLBACK_ALLOW_LOOPBACK';
  const credentialsHint = options.credentialsHint ?? 'authenticate with the signature';

  const refuse = (reason: string): never => {
    throw new UrlRefusedError(reason);
  };

  const judge = (address: string): void => {
    const verdict = classifyAddress(address);
    if (verdict === 'public') return;
    if (verdict === 'loopback' && options.allowLoopback) return;
    refuse(
      verdict === 'loopback'
        ? `it points at a loopback address (${address}); set ${loopbackSetting}=true only for local testing`
        : `it points at a private, link-local, reserved or metadata address (${address})`,
    );
  };

  /** Checks a URL; resolves with the host, the address to connect to and its family, or throws UrlRefusedError. */
  async function vet(raw: string): Promise<{ url: URL; address: string; family: 4 | 6 }> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return refuse('it is not a valid absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('only http and https URLs are allowed');
    if (url.username || url.password) refuse(`credentials in the URL are not allowed; ${credentialsHint}`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: { address: string; family: number }[];
    if (isIP(host)) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      try {
        addresses = await resolve(host);
      } catch {
        return refuse(`its host ${host} does not resolve`);
      }
      if (!addresses.length) refuse(`its host ${host} does not resolve`);
    }
    // Every address must pass: a name that resolves to a public and a private address is refused.
    addresses.forEach((a) => judge(a.address));
    const onlyLoopback = addresses.every((a) => classifyAddress(a.address) === 'loopback');
    if (url.protocol === 'http:' && !onlyLoopback) refuse('it must use https');
    const chosen = addresses[0]!;
    return { url, address: chosen.address, family: chosen.family === 6 ? 6 : 4 };
  }

  return {
    vet,
    /** At submit: a refused URL is a 422 that says why. */
    async checkAtSubmit(raw: string, loc: (string | number)[] = ['body', 'callback_url']): Promise<void> {
      try {
        await vet(raw);
      } catch (err) {
        if (!(err instanceof UrlRefusedError)) throw err;
        throw invalidParameters([{ loc, msg: `refused: ${err.message}`, type: 'url_refused' }]);
      }
    },
  };
}
export type UrlGuard = ReturnType<typeof createUrlGuard>;
