import type { FastifyBaseLogger } from 'fastify'
import type { SmsTransport } from './sms-transport.js'
import { maskPhone } from './phone.js'

/**
 * Development stand-in for a real SMS gateway: the code is read from the log. This is the only
 * place a code reaches a log, which is why config refuses SMS_TRANSPORT=log in production: logs
 * are shipped, kept and read by people who must not be able to log in as the user.
 */
export function createLogTransport (log: FastifyBaseLogger): SmsTransport {
  return {
    kind: 'log',
    async send ({ to, message }) {
      // warn, so it shows at the usual levels and stands out as not for production.
      log.warn({ sms_to: maskPhone(to), sms_message: message }, 'SMS (log transport, development only)')
    }
  }
}
