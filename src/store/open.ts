// Opens the store that store.url names.
import { isPrimError, PrimError } from '../errors.js';
import { redactUrl } from '../log.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export async function openStore(url: string): Promise<Store> {
  try {
    if (url.startsWith('sqlite:')) {
      return new SqliteStore(url.slice('sqlite:'.length));
    }
    if (url.startsWith('mongodb://') || url.startsWith('mongodb+srv://')) {
      const { MongoStore } = await import('./mongo/mongo-store.js');
      return await MongoStore.connect(url);
    }
  } catch (err) {
    if (isPrimError(err)) throw err;
    throw new PrimError(
      'SERVER_ERROR',
      `cannot open the store at store.url ${redactUrl(url)}: ${(err as Error).message}`,
    );
  }
  throw new PrimError('BAD_PARAMETER', `store.url: "${url}" names no known store`);
}
