import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** The header a browser client sends to keep its session in cookies instead of JSON fields. */
export const BROWSER_SESSION_HEADER = 'x-twofold-session'
export const REFRESH_COOKIE = 'twofold_rt'
export const DEVICE_COOKIE = 'twofold_td'
/** The login's `device_cookie` (a known device's own rate-limit bucket, README "How login decides"). */
export const KNOWN_DEVICE_COOKIE = 'twofold_device'
// Only a value of the token's own shape is passed on: a mangled cookie is no device, not a 400.
const KNOWN_DEVICE_SHAPE = /^twofold_dc_[A-Za-z0-9._-]{1,256}$/

// Each cookie travels only to the one route that reads it.
const REFRESH_PATH = '/token/refresh'
const DEVICE_PATH = '/login'
const ISSUING = new Set(['/login', '/login/tfa', '/token/refresh'])

/**
 * Browser sessions, an opt-in per request (`X-Twofold-Session: cookie`): the refresh token and
 * the trusted-device token leave the JSON answer for HttpOnly, SameSite=Strict, path-scoped
 * cookies, so no page script (an XSS included) can read them; the access token stays in the
 * page's memory. The cookies are only honoured on requests carrying the header: a cross-site
 * form or a simple request cannot set it, and a cross-origin fetch needs CORS to allow it, which
 * is the CSRF protection on top of SameSite. API clients that send no header get the JSON
 * fields exactly as before.
 */
export default fp(async function browserSessionPlugin (app) {
  await app.register(cookie)
  const optedIn = (request: FastifyRequest) => request.headers[BROWSER_SESSION_HEADER] === 'cookie'

  app.addHook('preValidation', async (request) => {
    if (request.method !== 'POST' || !optedIn(request)) return
    const body = request.body
    if (body === null || typeof body !== 'object') return
    const fields = body as Record<string, unknown>
    const url = request.routeOptions.url
    if (url === REFRESH_PATH && fields.refresh_token === undefined && request.cookies[REFRESH_COOKIE] !== undefined) {
      fields.refresh_token = request.cookies[REFRESH_COOKIE]
    }
    if (url === DEVICE_PATH && fields.device_token === undefined && request.cookies[DEVICE_COOKIE] !== undefined) {
      fields.device_token = request.cookies[DEVICE_COOKIE]
    }
    const known = request.cookies[KNOWN_DEVICE_COOKIE]
    if (url === DEVICE_PATH && fields.device_cookie === undefined && known !== undefined && KNOWN_DEVICE_SHAPE.test(known)) {
      fields.device_cookie = known
    }
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const url = request.routeOptions.url ?? ''
    if (request.method !== 'POST' || !optedIn(request)) return payload
    if (url === '/logout' || (url === REFRESH_PATH && reply.statusCode === 401)) {
      reply.clearCookie(REFRESH_COOKIE, { path: REFRESH_PATH })
      return payload
    }
    if (!ISSUING.has(url) || reply.statusCode !== 200 || typeof payload !== 'string') return payload
    const answer = JSON.parse(payload) as Record<string, unknown>
    if (typeof answer.refresh_token === 'string') {
      setCookie(request, reply, REFRESH_COOKIE, answer.refresh_token, REFRESH_PATH, Number(answer.refresh_expires_in))
      delete answer.refresh_token
    }
    if (typeof answer.device_token === 'string') {
      setCookie(request, reply, DEVICE_COOKIE, answer.device_token, DEVICE_PATH, app.config.trustedDeviceDays * 86400)
      delete answer.device_token
    }
    if (typeof answer.device_cookie === 'string') {
      setCookie(request, reply, KNOWN_DEVICE_COOKIE, answer.device_cookie, DEVICE_PATH, app.config.deviceCookies.days * 86400)
      delete answer.device_cookie
    }
    return JSON.stringify(answer)
  })
}, { name: 'browser-session', dependencies: ['config'] })

function setCookie (request: FastifyRequest, reply: FastifyReply, name: string, value: string, path: string, maxAge: number) {
  reply.setCookie(name, value, {
    path,
    httpOnly: true,
    sameSite: 'strict',
    // Secure whenever the request came over TLS (as the proxy says, with TRUST_PROXY): plain
    // http only on a developer's machine.
    secure: request.protocol === 'https',
    ...(Number.isFinite(maxAge) && maxAge > 0 ? { maxAge } : {})
  })
}
