import type { ServerOptions } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Config } from '../config/config.js'
import { ErrorCatalogue, errorBody, type ErrorName } from '../errors.js'

/**
 * Timeouts that keep a connection from being held open for free: a mute connection or one that
 * trickles its headers is cut after `headersTimeoutMs`, a trickled body after `requestTimeoutMs`,
 * an idle socket (also one that stops reading our response) after `connectionTimeoutMs`, and an
 * idle keep-alive connection after `keepAliveTimeoutMs` (longer than the usual load balancer's
 * 60 s, so it is never the server that closes a connection the balancer is about to reuse).
 */
export function connectionOptions (http: Config['http']): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout'> & { http: ServerOptions } {
  return {
    connectionTimeout: http.connectionTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    requestTimeout: http.requestTimeoutMs,
    http: {
      headersTimeout: http.headersTimeoutMs,
      // Node enforces the two limits above only at this interval (30 s by default), which would
      // let a 10 s limit hold for 40 s.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(http.headersTimeoutMs / 4)))
    }
  }
}

const CLIENT_ERRORS: Record<string, ErrorName> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'requestTimeout',
  HPE_HEADER_OVERFLOW: 'headersTooLarge'
}

/**
 * What Node's HTTP parser refuses (a timeout, headers too large, garbage) never reaches Fastify's
 * error handler: it is answered here, on the raw socket, with the same envelope as every error.
 */
export function clientErrorHandler (this: { log: { trace: (obj: object, msg: string) => void } }, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { status, message } = ErrorCatalogue[CLIENT_ERRORS[err.code ?? ''] ?? 'malformedRequest']
  this.log.trace({ err }, 'client error')
  if (socket.writable) {
    const body = JSON.stringify(errorBody(status, message))
    socket.write(`HTTP/1.1 ${status} ${STATUS_LINE[status] ?? 'Bad Request'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  }
  socket.destroy()
}

const STATUS_LINE: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }

/** Errors Fastify raises before routing (a URL that does not decode, …): the envelope too. */
export function frameworkErrors (_error: Error, _request: FastifyRequest, reply: FastifyReply): void {
  reply.code(400).send(errorBody(400, ErrorCatalogue.badUrl.message))
}
