import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * PGlite is a single-process database: two processes opening the same data
 * folder would corrupt it. Whoever opens it first holds this lock file; a
 * running server also names its control socket here so that the operator CLI
 * can hand its command to the server instead of opening the database itself.
 *
 * The lock is written whole to a private file and hard-linked into place, so
 * it never exists half-written and link() decides atomically who holds it.
 */
export interface LockOwner {
  pid: number;
  /** Unix socket of a running server's control channel; absent for a CLI run. */
  controlSocket?: string;
}

export interface DataDirLock {
  release(): void;
}

function lockFilePath(dataDir: string): string {
  return join(dataDir, 'appgrant.lock');
}

/** The lock files this process holds. */
const heldHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/** Writes `owner` whole to a private file next to `path`, for link() or rename() into place. */
function stage(path: string, owner: LockOwner): string {
  const staged = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(staged, JSON.stringify(owner), { mode: 0o600 });
  return staged;
}

/**
 * Moves aside a lock left by a dead process. Another process may have
 * replaced it since we read it; if what we moved is not the dead one's, it is
 * put back.
 */
function clearStaleLock(path: string, dead: LockOwner): void {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  const moved = readOwner(aside);
  if (moved && moved.pid !== dead.pid) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone took the lock in the meantime; theirs stands.
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Whether the process a lock names still holds it. A lock naming this
 * process that this process did not take, or naming its parent, was left by
 * an earlier process with the same PID: in a container the server is PID 1
 * (or the child of PID 1) in every incarnation, so after a kill -9 the dead
 * holder's PID is alive again, as ours or our parent's. PostgreSQL reads its
 * postmaster.pid the same way. appgrant never starts another appgrant on
 * its own data folder, so a parent never holds the lock its child asks for.
 */
function isHeld(path: string, owner: LockOwner): boolean {
  if (owner.pid === process.pid) return heldHere.has(path);
  if (owner.pid === process.ppid) return false;
  return isAlive(owner.pid);
}

/** The live process holding the data folder, if any; a lock left by a dead process is cleared. */
export function readLockOwner(dataDir: string): LockOwner | undefined {
  const path = lockFilePath(dataDir);
  const owner = readOwner(path);
  if (!owner) return undefined;
  if (isHeld(path, owner)) return owner;
  clearStaleLock(path, owner);
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
  const holder = readLockOwner(dataDir);
  if (holder) throw new DataDirBusyError(holder);
  const staged = stage(path, owner);
  try {
    linkSync(staged, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new DataDirBusyError(readOwner(path) ?? { pid: -1 });
  } finally {
    rmSync(staged, { force: true });
  }
  heldHere.add(path);
  return {
    release: () => {
      heldHere.delete(path);
      if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}

/** Rewrites the lock (still held by this process) to announce the control socket, atomically. */
export function announceControlSocket(dataDir: string, controlSocket: string): void {
  const path = lockFilePath(dataDir);
  renameSync(stage(path, { pid: process.pid, controlSocket }), path);
}

/**
 * Another short CLI run, or a server still starting up, holds the embedded
 * database: wait for it rather than fail, up to a limit.
 */
export async function whileDataDirBusy<T>(attempt: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof DataDirBusyError) || Date.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}
