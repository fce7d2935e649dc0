import { createTwofoldClient, type components } from '../../openapi/client/index.js'

type TokenResponse = components['schemas']['TokenResponse']

// Same origin unless the page says otherwise (a frontend on another origin, through CORS).
const configured = document.querySelector<HTMLMetaElement>('meta[name="twofold-api"]')?.content
export const apiBase = configured !== undefined && configured !== '' ? configured : location.origin

/**
 * Every call goes through the client generated from openapi/openapi.json. `X-Twofold-Session:
 * cookie` asks for the browser session: the refresh and device tokens travel in HttpOnly cookies
 * the page cannot read; the access token lives only in this module's memory.
 */
export const api = createTwofoldClient(apiBase, {
  headers: { 'X-Twofold-Session': 'cookie' },
  credentials: 'include'
})

export interface Session { enrolmentOnly: boolean, reminder?: string }
let current: Session | undefined
let refreshTimer: ReturnType<typeof setTimeout> | undefined

export const session = () => current

export function startSession (tokens: TokenResponse): Session {
  api.setToken(tokens.access_token)
  current = { enrolmentOnly: tokens.tfa_enrollment_required === true, ...(tokens.tfa_reminder ? { reminder: tokens.tfa_reminder } : {}) }
  clearTimeout(refreshTimer)
  // An enrolment-only login has no refresh token: it ends with its access token.
  if (!current.enrolmentOnly) refreshTimer = setTimeout(() => { resumeSession() }, Math.max(10, tokens.expires_in * 0.8) * 1000)
  return current
}

/** After a reload: the refresh cookie buys a new access token, so nobody types the code again. */
export async function resumeSession (): Promise<Session | undefined> {
  const { data } = await api.POST('/token/refresh', { body: {} as { refresh_token: string } })
  if (data === undefined) { forgetSession(); return undefined }
  return startSession(data)
}

export function forgetSession () {
  clearTimeout(refreshTimer)
  api.setToken(undefined)
  current = undefined
}

export async function signOut () {
  if (current !== undefined) await api.POST('/logout')
  forgetSession()
}

/** The catalogue's message of an error answer, for the rare case the page has no wording of its own. */
export function messageOf (error: unknown): string {
  const message = (error as { error?: { message?: unknown } } | undefined)?.error?.message
  return typeof message === 'string' ? message : 'Something went wrong: try again.'
}

export const retryAfter = (response: Response) => Number(response.headers.get('Retry-After') ?? '1')
