import type { FastifyReply, FastifyRequest } from 'fastify'

/** The browser's copy of the login response's `device_cookie` (HttpOnly: scripts never see it). */
export const DEVICE_COOKIE_NAME = 'twofold_device'

/** The `twofold_device` value of the Cookie header, if any (the value is base64url and dots: no decoding). */
export function deviceCookieOf (request: FastifyRequest): string | undefined {
  const header = request.headers.cookie
  if (header === undefined) return undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq > 0 && pair.slice(0, eq).trim() === DEVICE_COOKIE_NAME) return pair.slice(eq + 1).trim()
  }
  return undefined
}

/**
 * Sent back only to /login (and /login/tfa below it), never cross-site. Secure whenever the
 * request came over TLS (behind a proxy: with TRUST_PROXY, from X-Forwarded-Proto); the cookie
 * opens nothing by itself, so a plain-HTTP development setup may keep it too.
 */
export function setDeviceCookie (request: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) {
  const secure = request.protocol === 'https' ? '; Secure' : ''
  reply.header('set-cookie', `${DEVICE_COOKIE_NAME}=${value}; Max-Age=${maxAgeSeconds}; Path=/login; HttpOnly; SameSite=Strict${secure}`)
}
