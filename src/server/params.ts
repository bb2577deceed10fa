// prim clients send parameters as a JSON body, a form body or a query
// string. This hook merges them into the place the route's schema
// validates (body for POST, querystring for GET), body winning.
import type { FastifyRequest } from 'fastify';

type Params = Record<string, unknown>;

export async function mergeParams(request: FastifyRequest): Promise<void> {
  const query = (request.query ?? {}) as Params;
  const body = isObject(request.body) ? request.body : {};
  const merged = { ...query, ...body };
  if (request.method === 'GET') {
    request.query = merged;
  } else {
    request.body = merged;
  }
}

export function paramsOf(request: FastifyRequest): Params {
  return (request.method === 'GET' ? request.query : request.body) as Params;
}

function isObject(value: unknown): value is Params {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
