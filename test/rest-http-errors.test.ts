// Requests Node's HTTP parser refuses before routing still get the envelope.
import { connect as tcpConnect } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { startTestNode, stopTestNodes } from './helpers/node.js';

afterEach(async () => {
  await stopTestNodes();
});

// Sends raw bytes and resolves with everything the node answered.
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

function envelopeOf(answer: string) {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

test('headers over the size limit get 431 with code 1013', async () => {
  const node = await startTestNode();

  const answer = await raw(
    node.port,
    `GET /healthz?token=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
  );

  expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
  expect(envelopeOf(answer)).toEqual({
    code: 1013,
    msg: 'the request headers or URL are too large',
    data: null,
  });
});

test('a malformed request line gets 400 with code 1001', async () => {
  const node = await startTestNode();

  const answer = await raw(node.port, 'NOT HTTP AT ALL\r\n\r\n');

  expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
  expect(envelopeOf(answer)).toEqual({
    code: 1001,
    msg: 'the request is not valid HTTP',
    data: null,
  });
});
