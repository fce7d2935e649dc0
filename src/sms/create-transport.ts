import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config/config.js'
import { createLogTransport } from './log-transport.js'
import { SmsDeliveryError, type SmsTransport } from './sms-transport.js'
import { createWebhookTransport } from './webhook-transport.js'

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
