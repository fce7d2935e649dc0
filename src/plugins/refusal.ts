import type { FastifyReply, FastifyRequest } from 'fastify'
import { ErrorCatalogue, errorBody, type ErrorName } from '../errors.js'

const bodies = new Map<ErrorName, Buffer>()
// Which refusal answered a request, for the response hooks that classify it (plugins/metrics.ts):
// no error passes through onError on this path.
const refused = new WeakMap<FastifyRequest, ErrorName>()

/** The catalogue kind `refuse` answered this request with, if it did. */
export const refusalOf = (request: FastifyRequest): ErrorName | undefined => refused.get(request)

/**
 * Answers with a catalogue error serialized once per process: no Error object (its stack trace
 * alone costs more than a hello-world), no error handler, no schema serializer. For the refusals
 * that must stay cheap under a flood, the shed 503 and the rate-limit 429 (README "Performance").
 */
export function refuse (reply: FastifyReply, kind: ErrorName, retryAfterSeconds: number): void {
  let body = bodies.get(kind)
  if (body === undefined) {
    body = Buffer.from(JSON.stringify(errorBody(ErrorCatalogue[kind].status, ErrorCatalogue[kind].message)))
    bodies.set(kind, body)
  }
  refused.set(reply.request, kind)
  reply.code(ErrorCatalogue[kind].status)
    .header('retry-after', String(retryAfterSeconds))
    .header('content-type', 'application/json; charset=utf-8')
    .send(body)
}
