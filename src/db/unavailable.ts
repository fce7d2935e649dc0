import { Prisma } from '../generated/prisma/client.js'

// Driver adapter failures that mean "can't talk to the database", not "the query was wrong".
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TlsConnectionError', 'DatabaseDoesNotExist', 'DatabaseAccessDenied', 'AuthenticationFailed'])

/**
 * Prisma's P1xxx: the database is unreachable, gone or timing out; P2024: no pooled connection
 * came free; P2010 (a raw query failed) when the driver says the database could not be reached.
 */
export function isDatabaseUnavailable (error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) return true
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false
  if (error.code.startsWith('P1') || error.code === 'P2024') return true
  const kind = (error.meta as { driverAdapterError?: { cause?: { kind?: unknown } } } | undefined)?.driverAdapterError?.cause?.kind
  return error.code === 'P2010' && typeof kind === 'string' && UNREACHABLE_KINDS.has(kind)
}
