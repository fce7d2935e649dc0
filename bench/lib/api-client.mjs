// The service's API as a client uses it.
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * POST /login with `credentials` ({ username, password, totp? }); resolves to the access token.
 * A 503 (every hash slot taken) is retried after its Retry-After, as a client should.
 */
export async function logIn (base, credentials) {
  return (await logInSession(base, credentials)).access_token
}

/** POST /login, retried like logIn; resolves to the whole answer (access token, refresh token, session id). */
export async function logInSession (base, credentials) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials) })
    if (res.ok) return await res.json()
    if (res.status !== 503 || attempt === 5) throw new Error(`login as ${credentials.username} failed: ${res.status} ${await res.text()}`)
    await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000)
  }
}

export const bearer = (token) => ({ authorization: `Bearer ${token}` })
