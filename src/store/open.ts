// Opens the store that store.url names.
import { PrimError } from '../errors.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    return new SqliteStore(url.slice('sqlite:'.length));
  }
  if (url.startsWith('mongodb://') || url.startsWith('mongodb+srv://')) {
    const { MongoStore } = await import('./mongo/mongo-store.js');
    return MongoStore.connect(url);
  }
  throw new PrimError('BAD_PARAMETER', `store.url: "${url}" names no known store`);
}
