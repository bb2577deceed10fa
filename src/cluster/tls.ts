// The credentials of the peer link: plaintext, or mutual TLS when
// grpc.tlsCert, grpc.tlsKey and grpc.tlsCa are set. With TLS a node serves
// only peers whose certificate the CA signed, and dials only peers that
// show one for the address it dials (grpc.advertise).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import { PrimError } from '../errors.js';

export interface PeerCredentials {
  server: ServerCredentials;
  client: ChannelCredentials;
}

function read(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

// Peers check that the certificate names the address they dial; one that
// does not would be refused by every peer, and only their logs would say.
function checkNames(cert: Buffer, host: string): void {
  let names: boolean;
  try {
    const x509 = new X509Certificate(cert);
    names = (isIP(host) ? x509.checkIP(host) : x509.checkHost(host)) !== undefined;
  } catch (err) {
    throw new PrimError(
      'BAD_PARAMETER',
      `grpc.tlsCert: not a PEM certificate (${(err as Error).message})`,
    );
  }
  if (!names) {
    throw new PrimError(
      'BAD_PARAMETER',
      `grpc.tlsCert does not name ${host}, the host other nodes dial (grpc.advertise, else ` +
        "grpc.host): peers would refuse it; add it to the certificate's subjectAltName",
    );
  }
}

// `host`: the host of the address this node advertises.
export function peerCredentials(config: Config, host: string): PeerCredentials {
  const { tlsCert, tlsKey, tlsCa } = config.grpc;
  if (!tlsCert || !tlsKey || !tlsCa) {
    return {
      server: ServerCredentials.createInsecure(),
      client: credentials.createInsecure(),
    };
  }
  const cert = read('grpc.tlsCert', tlsCert);
  const key = read('grpc.tlsKey', tlsKey);
  const ca = read('grpc.tlsCa', tlsCa);
  checkNames(cert, host.replace(/^\[|\]$/g, ''));
  try {
    return {
      server: ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true),
      client: credentials.createSsl(ca, key, cert),
    };
  } catch (err) {
    throw new PrimError(
      'BAD_PARAMETER',
      `grpc.tlsCert, grpc.tlsKey, grpc.tlsCa: not a usable certificate, key and CA in PEM ` +
        `(${(err as Error).message})`,
    );
  }
}
