import { createHmac, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { SmsDeliveryError, type SmsMessage, type SmsTransport } from './sms-transport.js'

export interface WebhookOptions {
  url: string
  secret: string
  /** Per attempt, so a delivery takes at most about twice this plus the pause. */
  timeoutMs: number
  retryDelayMs?: number
}

/**
 * The value of the x-twofold-signature header: `sha256=` and the hex HMAC-SHA256 of the raw
 * body bytes. A receiver verifies it by computing signBody(secret, rawBody) over the bytes it
 * received (before any JSON parsing: re-serialising can change them) and comparing with
 * crypto.timingSafeEqual after checking the lengths match; a plain === would leak, through
 * timing, how much of a forged signature is right.
 */
export function signBody (secret: string, body: string | Uint8Array): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')
}

type Attempt = { ok: true } | { ok: false, retry: boolean, reason: string }

/** POSTs `{"to":…,"message":…}` to the configured URL, signed; one retry on transient failure. */
export function createWebhookTransport (options: WebhookOptions, log: FastifyBaseLogger): SmsTransport {
  const { url, secret, timeoutMs, retryDelayMs = 200 } = options

  async function attempt (body: Buffer, signature: string, deliveryId: string): Promise<Attempt> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-twofold-signature': signature, 'x-twofold-delivery-id': deliveryId, 'user-agent': 'twofold' },
        body,
        // A redirect would re-send the code to a URL nobody configured (307/308 keep the body).
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs)
      })
      // Free the connection; the receiver's answer carries nothing we use.
      await response.body?.cancel().catch(() => {})
      if (response.status >= 200 && response.status < 300) return { ok: true }
      // 4xx: the receiver refused this request, and would refuse it again.
      const retry = response.status >= 500 || response.status === 429
      return { ok: false, retry, reason: `HTTP ${response.status}` }
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') return { ok: false, retry: true, reason: 'timeout' }
      // Only the error code (ECONNREFUSED…): causes may quote the URL, which can hold a token.
      const code = (err as { cause?: { code?: unknown } }).cause?.code
      return { ok: false, retry: true, reason: typeof code === 'string' && /^[A-Z_]+$/.test(code) ? `network error (${code})` : 'network error' }
    }
  }

  return {
    kind: 'webhook',
    async send ({ to, message }: SmsMessage) {
      // Signed and sent as the same bytes, so the receiver can check exactly what it got.
      const body = Buffer.from(JSON.stringify({ to, message }), 'utf8')
      const signature = signBody(secret, body)
      // The same id on the retry: a receiver that already acted on the first attempt can drop it.
      const deliveryId = randomUUID()
      const first = await attempt(body, signature, deliveryId)
      if (first.ok) return
      if (!first.retry) throw new SmsDeliveryError(`SMS webhook refused the message: ${first.reason}`)
      // The first attempt may have got through (a timeout after the receiver acted): unless the
      // receiver de-duplicates on x-twofold-delivery-id, a retry can send a second SMS, which is
      // better than no SMS for a user waiting to log in.
      log.warn({ reason: first.reason }, 'SMS webhook attempt failed, retrying once')
      await sleep(retryDelayMs)
      const second = await attempt(body, signature, deliveryId)
      if (second.ok) return
      throw new SmsDeliveryError(`SMS webhook failed: ${second.reason} (after ${first.reason})`)
    }
  }
}
