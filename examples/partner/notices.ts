import { webcrypto } from 'node:crypto';
import { createRemoteJWKSet } from 'jose';

/**
 * Checking a notice from appgrant. Each POST to the partner's removeUrl
 * carries `appgrant-signature: t=<unix time>,kid=<key id>,es256=<signature>`,
 * the ES256 signature (base64url, r‖s) of "<t>.<raw body>" by a key that
 * appgrant publishes at /oauth/jwks. A partner accepts a notice only when
 * the signature verifies with that key and t is recent, so a captured
 * notice cannot be replayed later.
 */

/** How far the notice's time may be from ours, either way. */
export const maxNoticeAgeSeconds = 300;

export type NoticeCheck = { ok: true; notice: Notice } | { ok: false; reason: string };

export interface Notice {
  id: string;
  event: string;
  appId: string;
  clientId: string;
  [field: string]: unknown;
}

function parseSignatureHeader(header: string): { t: string; kid: string; es256: string } | undefined {
  const fields = new Map(
    header.split(',').map((part) => {
      const separator = part.indexOf('=');
      return [part.slice(0, separator).trim(), part.slice(separator + 1).trim()] as const;
    }),
  );
  const [t, kid, es256] = [fields.get('t'), fields.get('kid'), fields.get('es256')];
  return t && kid && es256 && /^\d+$/.test(t) ? { t, kid, es256 } : undefined;
}

/** Verifies notices against the issuer's published keys (fetched once, again when an unknown kid appears). */
export function noticeVerifier(issuer: string) {
  const keys = createRemoteJWKSet(new URL('/oauth/jwks', issuer));

  return async function verifyNotice(header: string | undefined, body: string, now = Date.now()): Promise<NoticeCheck> {
    const signature = header ? parseSignatureHeader(header) : undefined;
    if (!signature) return { ok: false, reason: 'missing or malformed appgrant-signature header' };
    if (Math.abs(now / 1000 - Number(signature.t)) > maxNoticeAgeSeconds) return { ok: false, reason: 'stale timestamp' };
    let key: webcrypto.CryptoKey;
    try {
      key = (await keys({ alg: 'ES256', kid: signature.kid })) as webcrypto.CryptoKey;
    } catch {
      return { ok: false, reason: `no published key ${signature.kid}` };
    }
    const valid = await webcrypto.subtle.verify(
      { name: 'ECDSA', hash: 'SHA-256' },
      key,
      Buffer.from(signature.es256, 'base64url'),
      new TextEncoder().encode(`${signature.t}.${body}`),
    );
    if (!valid) return { ok: false, reason: 'bad signature' };
    try {
      return { ok: true, notice: JSON.parse(body) as Notice };
    } catch {
      return { ok: false, reason: 'body is not JSON' };
    }
  };
}
