import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64-encoded. */
function formDecode (value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

/**
 * The resource servers allowed to introspect, authenticated with HTTP Basic (client_secret_basic,
 * as RFC 7662 §2.1 suggests). Returns the caller's client id, or undefined.
 */
export function createClientAuthenticator (clients: Map<string, string>) {
  const secrets = new Map([...clients].map(([id, secret]) => [id, digest(secret)]))
  // Unknown ids are compared too, so the answer takes as long whether the id exists or not.
  const nobody = digest('')

  return function authenticateClient (authorization: string | undefined): string | undefined {
    const match = /^basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization ?? '')
    if (match === null) return undefined
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) return undefined
    const id = formDecode(decoded.slice(0, colon))
    const secret = formDecode(decoded.slice(colon + 1))
    if (id === undefined || secret === undefined) return undefined
    const expected = secrets.get(id)
    const equal = timingSafeEqual(digest(secret), expected ?? nobody)
    return expected !== undefined && equal ? id : undefined
  }
}
