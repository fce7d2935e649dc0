import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config/config.js'
import { SmsDeliveryError } from './delivery-error.js'
import { createLogTransport } from './log-transport.js'
import { createWebhookTransport } from './webhook-transport.js'

// Its own module so the transports can throw it without importing this one (an import cycle).
export { SmsDeliveryError }

/** `to` is an E.164 number (the caller validates it); `message` carries the code. */
export interface SmsMessage { to: string, message: string }

export interface SmsTransport {
  /** 'none' means SMS is off: routes check this before generating a code. */
  readonly kind: 'webhook' | 'log' | 'none'
  /** Resolves once the SMS was handed over; throws SmsDeliveryError otherwise. */
  send (msg: SmsMessage): Promise<void>
}

export function createSmsTransport (config: Config['sms'], log: FastifyBaseLogger): SmsTransport {
  switch (config.transport) {
    case 'webhook':
      if (config.webhook === undefined) throw new Error('SMS_TRANSPORT=webhook without webhook settings')
      return createWebhookTransport(config.webhook, log)
    case 'log':
      return createLogTransport(log)
    case 'none':
      return {
        kind: 'none',
        async send () { throw new SmsDeliveryError('SMS is not configured') }
      }
  }
}
