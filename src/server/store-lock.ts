// In single-node mode one node owns a SQLite store: a second node on the
// same file would store messages it cannot deliver to the first node's
// sessions. A lock file next to the store, holding the owner's pid, keeps
// the second one from starting. (Cluster nodes share a store on purpose and
// reach each other's sessions, so they take no lock.)
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PrimError } from '../errors.js';

export interface StoreLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockStore(storeFile: string): StoreLock {
  const file = `${storeFile}.lock`;
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(owner) && alive(owner)) {
      throw new PrimError(
        'OPERATION_FAILED',
        `another prim node (pid ${owner}) serves the store ${storeFile}; one node owns a ` +
          'store unless the nodes form a cluster (redis.url). Stop it first, or remove ' +
          `${file} if that pid is not a prim node`,
      );
    }
    // Left by a node that was killed: taken over.
    writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  }
  return { release: () => rmSync(file, { force: true }) };
}
