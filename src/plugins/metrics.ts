import { AsyncLocalStorage } from 'node:async_hooks'
import diagnosticsChannel from 'node:diagnostics_channel'
import fp from 'fastify-plugin'
import type { AddressInfo } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { smsThrottledChannel } from '../auth/signals.js'
import { createMetrics, type Metrics } from '../metrics/definitions.js'
import { listenForScrapes } from '../metrics/listener.js'
import { refusalOf } from './refusal.js'
import { COUNTED_EVENTS, loginResult, tokenResult, type LoginTrace, type SeenError } from '../metrics/outcomes.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Present when METRICS_PORT is set; `address()` is the scrape listener's. */
    metrics?: Metrics & { address: () => AddressInfo }
  }
}

// Login routes are classified from what the account service audits while the handler runs (no
// edit to the login code): the handler runs inside this store, and the audit observer writes to it.
const LOGIN_ROUTE = /^\/login(\/|$)/
const traces = new AsyncLocalStorage<LoginTrace>()

/** Prometheus metrics (README "Metrics"): counted only when METRICS_PORT is set, served only there. */
export default fp(async function metricsPlugin (app) {
  const settings = app.config.metrics
  if (settings === undefined) return
  // bcrypt runs on libuv's pool: hashes beyond its threads wait in its queue.
  const metrics = createMetrics({ hashSlots: app.passwords.slots, threads: Number(process.env.UV_THREADPOOL_SIZE ?? 4) || 4 })
  const errors = new WeakMap<FastifyRequest, SeenError>()
  const loginTraces = new WeakMap<FastifyRequest, LoginTrace>()

  app.audit.observe((type, detail) => {
    const trace = traces.getStore()
    if (trace !== undefined && detail?.action === 'login') {
      if (type === 'login.failed' && typeof detail.reason === 'string') trace.failure = detail.reason
    }
    if (trace !== undefined && type === 'login.succeeded' && Array.isArray(detail?.amr)) trace.amr = detail.amr
    if (!COUNTED_EVENTS.has(type)) return
    if (type === 'tfa.locked') metrics.locks.inc()
    else if (type === 'sms.sent') metrics.sms.inc({ result: 'sent', purpose: String(detail?.purpose ?? 'unknown') })
    else if (type === 'sms.delivery_failed') metrics.sms.inc({ result: 'failed', purpose: String(detail?.purpose ?? 'unknown') })
    else if (type === 'sms.limit_reached') metrics.smsLimits.inc({ limit: String(detail?.limit ?? 'unknown') })
    else if (type === 'session.refresh_reused') metrics.refreshReuse.inc()
    else if (type === 'session.ended') metrics.sessionsEnded.inc({ reason: String(detail?.reason ?? 'unknown') }, Number(detail?.count ?? 1))
  })
  const onThrottled = (message: unknown) => { metrics.sms.inc({ result: 'throttled', purpose: String((message as { purpose?: unknown }).purpose ?? 'unknown') }) }
  diagnosticsChannel.subscribe(smsThrottledChannel.name, onThrottled)

  app.passwords.observe({ settled: (seconds) => { metrics.hashDuration.observe(seconds) }, refused: () => { metrics.hashesShed.inc() } })

  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path
    if (route.method !== 'POST' || typeof url !== 'string' || !LOGIN_ROUTE.test(url)) return
    const handler = route.handler
    route.handler = function traced (this: unknown, request, reply) {
      const trace: LoginTrace = {}
      loginTraces.set(request, trace)
      return traces.run(trace, () => handler.call(this as never, request, reply))
    }
  })
  app.addHook('onError', (request, _reply, error, done) => {
    errors.set(request, { kind: (error as { kind?: string }).kind, validation: (error as { validation?: unknown }).validation !== undefined })
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    metrics.requestDuration.observe({ method: request.method, route, status_code: String(status) }, reply.elapsedTime / 1000)
    const refusal = refusalOf(request)
    const error = errors.get(request) ?? (refusal === undefined ? undefined : { kind: refusal })
    const trace = loginTraces.get(request)
    if (trace !== undefined) {
      const tfaMethod = reply.getHeader('x-tfa-method')
      const { result, secondFactor } = loginResult(status, error, trace, typeof tfaMethod === 'string' ? tfaMethod : undefined)
      metrics.logins.inc({ result, second_factor: secondFactor })
    } else if (request.method === 'POST' && LOGIN_ROUTE.test(route)) {
      // Refused before the handler ran (rate limit, shedding, validation).
      metrics.logins.inc({ result: loginResult(status, error, {}, undefined).result, second_factor: 'none' })
    } else if (request.method === 'POST' && route === '/token/refresh') {
      metrics.refreshes.inc({ result: tokenResult(status, error) })
    } else if (request.method === 'POST' && route === '/token') {
      metrics.apiKeyExchanges.inc({ result: tokenResult(status, error) })
    }
    done()
  })

  let listener: Awaited<ReturnType<typeof listenForScrapes>> | undefined
  app.decorate('metrics', { ...metrics, address: () => { if (listener === undefined) throw new Error('metrics listener not started'); return listener.address() } })
  app.addHook('onReady', async () => {
    listener = await listenForScrapes(metrics.registry, settings)
    app.log.info({ address: listener.address() }, 'metrics listener started')
  })
  app.addHook('onClose', async () => {
    diagnosticsChannel.unsubscribe(smsThrottledChannel.name, onThrottled)
    await listener?.close()
    metrics.registry.clear()
  })
}, { name: 'metrics', dependencies: ['config', 'audit', 'passwords'] })
