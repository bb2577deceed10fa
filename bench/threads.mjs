// The threads of `npm run bench` other than its main one: the load
// generator, and the nodes of the cluster scenarios. This file is also the
// script each of those worker threads runs; `workerData.role` says which.
//
// A node in a worker thread has an event loop and a heap of its own, as a
// node in its own process would, so two nodes of a cluster do not wait for
// each other's work. They still share this process with the load generator:
// one RSS, one libuv thread pool, the machine's cores. Child processes
// (`prim serve`) would be closer to production, but the bench could then no
// longer count the store's writes, and each node would need a port chosen
// up front instead of port 0.
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { runBench } from '../dist/bench/runner.js';
import { loadConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';
import { startNode } from '../dist/server/node.js';

const SCRIPT = fileURLToPath(import.meta.url);

if (!isMainThread) {
  if (workerData.role === 'load') parentPort.postMessage(await runBench(workerData.options));
  else await hostNode(workerData);
}

// The load generator runs in a worker thread: sharing the node's event loop
// would make every client parse and send a delay in the node's own numbers.
export async function loadInThread(options) {
  const worker = new Worker(SCRIPT, { workerData: { role: 'load', options } });
  return answer(worker);
}

// A node started from PRIM_* variables in `env`, in a thread of its own.
// `stop()` resolves to the store writes it counted (see countWrites).
export async function nodeInThread(env, dataDir) {
  const worker = new Worker(SCRIPT, { workerData: { role: 'node', env, dataDir } });
  const { url } = await answer(worker);
  return {
    url,
    async stop() {
      worker.postMessage('stop');
      const { writes } = await answer(worker);
      // The node has closed what it opened; anything a library keeps alive
      // after that is not the bench's to wait for.
      await worker.terminate();
      return writes;
    },
  };
}

async function hostNode({ env, dataDir }) {
  const { config } = loadConfig({ cwd: dataDir, env });
  const node = await startNode(config, createLogger({ level: 'silent', pretty: false }));
  const writes = countWrites(node.context.store);
  parentPort.once('message', async () => {
    await node.stop();
    parentPort.postMessage({ writes });
  });
  parentPort.postMessage({ url: node.url });
}

// The node batches message writes into one store transaction while the
// previous one is under way (src/messages/writer.ts). Counting the store's
// calls from out here shows how well that batching works under each load.
export function countWrites(store) {
  const writes = { transactions: 0, messages: 0 };
  const append = store.appendMessages.bind(store);
  store.appendMessages = (batch) => {
    writes.transactions += 1;
    writes.messages += batch.length;
    return append(batch);
  };
  return writes;
}

// The worker's next message. Its error, or its exit before it answered,
// rejects instead.
function answer(worker) {
  return new Promise((resolve, reject) => {
    const settle = (done) => (value) => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      done(value);
    };
    const onMessage = settle(resolve);
    const onError = settle(reject);
    const onExit = settle((code) => reject(new Error(`a bench thread exited with ${code}`)));
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}
