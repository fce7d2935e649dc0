import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'

const PREFIX = 'twofold_dc_'
// user id . device id (128 random bits) . expiry (unix seconds) . HMAC-SHA256
const FORMAT = /^twofold_dc_([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/

/** What a valid device cookie proves: this device logged in as this user before. */
export interface KnownDevice {
  userId: string
  deviceId: string
}

export interface DeviceCookies {
  /** False when DEVICE_COOKIE_DAYS is 0: none are issued and none honoured. */
  readonly enabled: boolean
  /** Seconds a new cookie lives (the browser cookie's Max-Age). */
  readonly maxAgeSeconds: number
  /** A fresh cookie for a device that just logged in as this user. */
  issue: (userId: string, username: string) => string
  /** The device a cookie names when it is signed by us, unexpired and issued for this (normalized) username; else null. */
  verify: (cookie: string | undefined, username: string) => KnownDevice | null
}

/**
 * OWASP's device cookies ("Slow down online guessing attacks with device cookies"): a signed
 * proof that a client logged in as a user before. It never stands in for the password or a code;
 * it only takes its holder out of the username's shared login bucket, so a flood of guesses on a
 * username can't lock its owner out. Verifying is one HMAC, no I/O, so it runs before bcrypt.
 * The MAC covers the username (normalized) and the user id: a cookie is worthless for any other
 * username. It stays valid through a password change on purpose: it proves a past login, which
 * is all the rate limit needs (the password and code are checked as for everyone).
 */
export function createDeviceCookies ({ keySource, now, days }: { keySource: Buffer, now: () => number, days: number }): DeviceCookies {
  const key = Buffer.from(hkdfSync('sha256', keySource, Buffer.alloc(0), 'twofold device cookie v1', 32))
  const macOf = (userId: string, username: string, deviceId: string, expires: string) =>
    createHmac('sha256', key).update(`${userId}\n${username}\n${deviceId}\n${expires}`).digest()
  const maxAgeSeconds = days * 86400

  return {
    enabled: days > 0,
    maxAgeSeconds,
    issue (userId, username) {
      const deviceId = randomBytes(16).toString('base64url')
      const expires = String(Math.floor(now() / 1000) + maxAgeSeconds)
      return `${PREFIX}${userId}.${deviceId}.${expires}.${macOf(userId, username, deviceId, expires).toString('base64url')}`
    },
    verify (cookie, username) {
      if (days === 0 || cookie === undefined) return null
      const match = FORMAT.exec(cookie)
      if (match === null) return null
      const [, userId = '', deviceId = '', expires = '', mac = ''] = match
      if (Number(expires) * 1000 <= now()) return null
      const expected = macOf(userId, username, deviceId, expires)
      const given = Buffer.from(mac, 'base64url')
      // base64url's last character has spare bits a decoder ignores: only the one spelling we issue counts.
      if (given.toString('base64url') !== mac) return null
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
      return { userId, deviceId }
    }
  }
}
