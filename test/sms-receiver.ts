import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { signBody } from '../src/sms/webhook-transport.js'

interface Teardown { teardown: (fn: () => unknown) => void }

export interface ReceivedSms { to: string, message: string, signatureValid: boolean }

/**
 * An SMS gateway stand-in: a real HTTP server on a free local port that checks each webhook's
 * signature and keeps the messages. `failNext(n)` answers the next n requests with 500.
 */
export async function startSmsReceiver (t: Teardown) {
  const secret = randomBytes(24).toString('base64url')
  const messages: ReceivedSms[] = []
  let failures = 0
  let requests = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests++
      if (failures > 0) {
        failures--
        res.writeHead(500).end()
        return
      }
      const body = Buffer.concat(chunks)
      const { to, message } = JSON.parse(body.toString('utf8')) as { to: string, message: string }
      messages.push({ to, message, signatureValid: req.headers['x-twofold-signature'] === signBody(secret, body) })
      res.writeHead(202, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`
  return {
    env: { SMS_TRANSPORT: 'webhook', SMS_WEBHOOK_URL: url, SMS_WEBHOOK_SECRET: secret, SMS_WEBHOOK_TIMEOUT_MS: '2000' },
    messages,
    get requests () { return requests },
    failNext (n: number) { failures = n },
    /** Messages sent to `to` so far. */
    to (to: string) { return messages.filter(m => m.to === to) },
    /** The code in the latest message to `to`. */
    lastCode (to: string): string {
      const last = messages.filter(m => m.to === to).at(-1)
      const code = last?.message.match(/\b([0-9]{6})\b/)?.[1]
      if (code === undefined) throw new Error(`no code sent to ${to}`)
      return code
    }
  }
}

export type SmsReceiver = Awaited<ReturnType<typeof startSmsReceiver>>
