// Users with TFA on, enrolled through the API, and handed out so that no code is used twice.
import { bearer, logIn } from './api-client.mjs'
import { CONNECTIONS, D, log, PASSWORD } from './options.mjs'
import { insertUsers } from './scratch-state.mjs'

async function pool (items, concurrency, fn) {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < items.length) await fn(items[next++]) }))
}

/**
 * Hands out each TFA user once with the current step's code; when all are used, once more with
 * the next step's (still inside TOTP_WINDOW=1, and later than the step they used: no replay).
 */
function userQueue (users) {
  let i = 0
  return {
    next () {
      const round = Math.floor(i / users.length)
      const user = users[i++ % users.length]
      if (round > 1) throw new Error(`bench ran out of TFA users after ${i - 1} requests: raise the count in bench/lib/tfa-users.mjs`)
      return { ...user, offsetMs: round * 30_000 }
    }
  }
}

/** Logs `user` in with the password, then /tfa/enable and /tfa/validate; sets `user.secret`. */
async function enrol (base, user, code) {
  const auth = { ...bearer(await logIn(base, { username: user.username, password: PASSWORD })), 'content-type': 'application/json' }
  const enable = await (await fetch(`${base}/tfa/enable`, { method: 'POST', headers: { authorization: auth.authorization } })).json()
  user.secret = enable.secret
  // The previous step's code: the logins that follow use later steps, never a replay.
  // (A step boundary crossed between client and server can put it out of the window: retry.)
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${base}/tfa/validate`, { method: 'POST', headers: auth, body: JSON.stringify({ totp: code(user.secret, Date.now() - 30_000) }) })
    if (res.ok) return
    if (attempt === 3) throw new Error(`validate failed: ${res.status} ${await res.text()}`)
  }
}

/**
 * Replay protection lets a code in once: every TFA login gets a user of its own. Enough for three
 * scenarios at 1.5 × the ceiling's rate (code appended, code in `totp`, the two-step login with a
 * receipt, whose queue also gives the remembered devices theirs and its warm-up of half the
 * duration its users), each user twice (the queue's second round), plus one for the wrong-code scenario.
 */
export async function prepareTfaUsers ({ server, db, hash, ceilingRps, code }) {
  const perScenario = Math.ceil(Math.max(ceilingRps, 40) * D * 1.5) + 50
  const users = await insertUsers(db, 'tfa', perScenario * 3 + CONNECTIONS + 1, hash)
  log(`enrolling ${users.length} TFA users through the API`)
  // Each user logs in once for a token of its own (enrolment acts on the token's user), at most
  // as many at a time as the service has hash slots, so none is refused with a 503.
  await pool(users, CONNECTIONS, (user) => enrol(server.base, user, code))
  const wrongCodeUser = users.pop()
  return {
    wrongCodeUser,
    queues: { appended: userQueue(users.slice(0, perScenario)), field: userQueue(users.slice(perScenario, 2 * perScenario)), receipt: userQueue(users.slice(2 * perScenario)) }
  }
}
