// What logs and errors show of URLs: never a credential.
import { expect, test } from 'vitest';
import { redactUrl } from '../src/log.js';

test.each([
  ['redis://user:hunter2@127.0.0.1:6379/0', 'redis://[Redacted]@127.0.0.1:6379/0'],
  ['redis://u:p@ss@127.0.0.1:6379', 'redis://[Redacted]@127.0.0.1:6379'],
  ['mongodb://u:p/ss@h1,h2/prim?replicaSet=rs0', 'mongodb://[Redacted]@h1,h2/prim?replicaSet=rs0'],
  ['redis://127.0.0.1:6379/0?name=a@b', 'redis://127.0.0.1:6379/0?name=a@b'],
  ['ws://127.0.0.1:8093/acc?token=abc.def', 'ws://127.0.0.1:8093/acc?token=[Redacted]'],
])('%s is shown as %s', (url, shown) => {
  expect(redactUrl(url)).toBe(shown);
});
