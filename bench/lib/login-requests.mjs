// Login bodies: the one user without TFA, and TFA users each with a fresh code.
import { PASSWORD } from './options.mjs'

export const plainLogin = { username: 'plain1', password: PASSWORD }

/** An autocannon setupRequest: the next user of `queue`, the code typed after the password. */
export const appendedCodeLogin = (queue, code) => (req) => {
  const u = queue.next()
  return { ...req, body: JSON.stringify({ username: u.username, password: PASSWORD + code(u.secret, Date.now() + u.offsetMs) }) }
}

/** An autocannon setupRequest: the next user of `queue`, the code in its own `totp` field. */
export const codeFieldLogin = (queue, code) => (req) => {
  const u = queue.next()
  return { ...req, body: JSON.stringify({ username: u.username, password: PASSWORD, totp: code(u.secret, Date.now() + u.offsetMs) }) }
}
