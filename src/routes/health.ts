import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError } from '../errors.js'
import { errorResponses } from '../schemas/responses.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    config: { quietLog: true },
    schema: {
      tags: ['operations'],
      operationId: 'getHealth',
      summary: 'Liveness: the process is up',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process is alive.' }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: { quietLog: true },
    schema: {
      tags: ['operations'],
      operationId: 'getReadiness',
      summary: 'Readiness: the database and the short-lived store answer',
      response: {
        200: Type.Object({ status: Type.Literal('ready'), database: Type.String(), store: Type.String() }, { description: 'Ready to serve: the database and the store answered.' }),
        ...errorResponses({ 503: 'The database or Redis is unreachable.' })
      }
    }
  }, async () => {
    const [database, store] = await Promise.allSettled([
      withTimeout(app.prisma.$queryRaw`SELECT 1`),
      withTimeout(app.store.ping())
    ])
    const databaseDown = database.status === 'rejected'
    const storeDown = store.status === 'rejected'
    if (databaseDown || storeDown) {
      throw new AppError(databaseDown && storeDown ? 'nothingReady' : databaseDown ? 'databaseNotReady' : 'storeNotReady', { retryAfterSeconds: 5 })
    }
    return { status: 'ready' as const, database: app.databaseMode, store: app.store.kind }
  })
}

async function withTimeout<T> (promise: Promise<T>, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

export default routes
