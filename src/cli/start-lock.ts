// Of two `prim start` on one dataDir at once, one goes on and the other is
// refused: whichever takes the start lock first. Without it both spawned a
// node, the second to listen failed, and its start could remove the pid
// file that named the node that ran.
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { PrimError } from '../errors.js';
import { isPrimProcess } from './background.js';

export interface StartLock {
  release(): void;
}

// A lock that is taken again and again while its holders vanish is not
// worth fighting over.
const ATTEMPTS = 3;

// What the lock file holds (the holder's pid), or undefined without one.
function contentOf(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function starting(pid: number | undefined): PrimError {
  return new PrimError(
    'OPERATION_FAILED',
    `a node is already starting here (prim start${pid ? `, pid ${pid}` : ''}); ` +
      'once it is up, see prim status',
  );
}

// The lock is written whole to a file of this process and then linked into
// place, which fails when a lock is there: no start ever reads one half
// written, as it could a file created and then written.
export function takeStartLock(file: string): StartLock {
  const mine = `${process.pid}\n`;
  const own = `${file}.${process.pid}`;
  writeFileSync(own, mine, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        linkSync(own, file);
        return {
          release: () => {
            if (contentOf(file) === mine) rmSync(file, { force: true });
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }

      const held = contentOf(file);
      if (held === undefined) continue;
      const holder = Number(held.trim());
      const alive =
        Number.isInteger(holder) && holder !== process.pid && isPrimProcess(holder, 'start');
      if (alive) throw starting(holder);
      breakStale(file, held);
    }
    throw starting(undefined);
  } finally {
    rmSync(own, { force: true });
  }
}

// The start that held the lock is gone without letting go (killed, or its
// machine restarted). The lock is moved aside before it is removed, and
// put back should it turn out to be a new one another start took since.
function breakStale(file: string, stale: string): void {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if (contentOf(aside) !== stale) linkSync(aside, file);
  } catch (err) {
    // A third start took the lock in the meantime; it holds it now.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(aside, { force: true });
  }
}
