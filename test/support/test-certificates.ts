import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';

/**
 * A self-signed certificate for localhost and 127.0.0.1, made with the
 * openssl command for this test run only, so an https receiver can run on
 * loopback.
 */
export function localhostCertificate(): { key: string; cert: string } {
  const folder = mkdtempSync(join(tmpdir(), 'appgrant-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(folder, 'key.pem'), '-out', join(folder, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(folder, 'key.pem'), 'utf8'), cert: readFileSync(join(folder, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Adds a certificate to the roots this process trusts (what NODE_EXTRA_CA_CERTS does at start). */
export function trustInThisProcess(cert: string): void {
  setDefaultCACertificates([...getCACertificates('default'), cert]);
}
