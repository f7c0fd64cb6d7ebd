import { randomBytes } from 'node:crypto';

/** 24 hex characters, the identifier shape the platform API has always used for apps and accounts. */
export function newId(prefix = ''): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}
