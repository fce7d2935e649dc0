// A typed twofold client: openapi-fetch over the types `npm run openapi:types` generates from
// openapi/openapi.json (schema.d.ts, committed; never edit it by hand). Paths, request bodies and
// response bodies are exactly the document's, so a client built on it breaks at compile time
// when the document changes under it.
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch'
import type { components, paths } from './schema.js'

export type { components, operations, paths } from './schema.js'

/**
 * The error envelope every non-2xx response carries, as documented. (The `error` that
 * openapi-fetch 0.17 returns is typed without `identity`: its Readable<> helper drops properties
 * whose type is exactly `null`. The value is still there at run time.)
 */
export type TwofoldError = components['schemas']['Error']

export interface TwofoldClient extends Client<paths> {
  /** The access token sent as `Authorization: Bearer …` from now on; undefined stops sending one. */
  setToken: (token: string | undefined) => void
}

/**
 * Middleware adding `Authorization: Bearer <token>` to every request that doesn't set its own
 * Authorization header; `getToken` is asked on each request (undefined: no header).
 */
export function bearerAuth (getToken: () => string | undefined): Middleware {
  return {
    onRequest ({ request }) {
      const token = getToken()
      if (token !== undefined && !request.headers.has('authorization')) {
        request.headers.set('authorization', `Bearer ${token}`)
      }
      return request
    }
  }
}

/** A client for the twofold instance at `baseUrl` (e.g. `http://127.0.0.1:3000`). */
export function createTwofoldClient (baseUrl: string, options: Omit<ClientOptions, 'baseUrl'> = {}): TwofoldClient {
  let token: string | undefined
  const client = createClient<paths>({ ...options, baseUrl })
  client.use(bearerAuth(() => token))
  return Object.assign(client, { setToken: (value: string | undefined) => { token = value } })
}
