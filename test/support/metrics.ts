/** The value of one unlabelled counter or gauge on a server's /metrics page. */
export async function metricValue(base: string, name: string): Promise<number> {
  const page = await (await fetch(`${base}/metrics`)).text();
  const line = page.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} on /metrics`);
  return Number(line.slice(name.length + 1));
}

/** argon2id verifications the server has run so far. */
export const passwordVerifications = (base: string) => metricValue(base, 'appgrant_password_hash_verifications_total');
