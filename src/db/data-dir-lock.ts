import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * PGlite is a single-process database: two processes opening the same data
 * folder would corrupt it. Whoever opens it first writes this lock file; a
 * running server also names its control socket here so that the operator CLI
 * can hand its command to the server instead of opening the database itself.
 */
export interface LockOwner {
  pid: number;
  /** Unix socket of a running server's control channel; absent for a CLI run. */
  controlSocket?: string;
}

export interface DataDirLock {
  release(): void;
}

export function lockFilePath(dataDir: string): string {
  return join(dataDir, 'appgrant.lock');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live process holding the data folder, if any; a lock left by a dead process is removed. */
export function readLockOwner(dataDir: string): LockOwner | undefined {
  const path = lockFilePath(dataDir);
  let owner: LockOwner;
  try {
    owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A half-written lock: its writer died between open and write.
    rmSync(path, { force: true });
    return undefined;
  }
  if (owner.pid !== process.pid && isAlive(owner.pid)) return owner;
  if (owner.pid !== process.pid) rmSync(path, { force: true });
  return undefined;
}

export class DataDirBusyError extends Error {
  readonly owner: LockOwner;

  constructor(owner: LockOwner) {
    super(`the data folder is in use by process ${owner.pid}`);
    this.owner = owner;
  }
}

/** Takes the data folder for this process or throws DataDirBusyError naming the holder. */
export function acquireDataDirLock(dataDir: string, owner: LockOwner): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = lockFilePath(dataDir);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const holder = readLockOwner(dataDir);
    if (holder) throw new DataDirBusyError(holder);
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(owner));
      closeSync(fd);
      return {
        release: () => {
          if (readLockOwnerRaw(path)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const holder = readLockOwner(dataDir);
  throw new DataDirBusyError(holder ?? { pid: -1 });
}

function readLockOwnerRaw(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/** Rewrites the lock (still held by this process) to announce the control socket. */
export function announceControlSocket(dataDir: string, controlSocket: string): void {
  const path = lockFilePath(dataDir);
  const fd = openSync(path, 'w', 0o600);
  writeSync(fd, JSON.stringify({ pid: process.pid, controlSocket } satisfies LockOwner));
  closeSync(fd);
}
