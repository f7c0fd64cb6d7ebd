/**
 * The `Authorization: Basic` value of the tests, for API keys and OAuth
 * clients alike. `basicAuth(id, secret)` joins the pair as given: the ids and
 * secrets appgrant issues are URL-safe, so this is also the form-encoded
 * client_secret_basic of RFC 6749 §2.3.1. `basicAuth(raw)` encodes any text
 * or bytes, for the malformed headers a test sends on purpose.
 */
export function basicAuth(idOrRaw: string | readonly number[], secret?: string): string {
  const raw = typeof idOrRaw === 'string' ? Buffer.from(secret === undefined ? idOrRaw : `${idOrRaw}:${secret}`) : Buffer.from(idOrRaw);
  return `Basic ${raw.toString('base64')}`;
}
