/** `to` is an E.164 number (the caller validates it); `message` carries the code. */
export interface SmsMessage { to: string, message: string }

export interface SmsTransport {
  /** 'none' means SMS is off: routes check this before generating a code. */
  readonly kind: 'webhook' | 'log' | 'none'
  /** Resolves once the SMS was handed over; throws SmsDeliveryError otherwise. */
  send (msg: SmsMessage): Promise<void>
}

/**
 * An SMS could not be handed over (after the transport's retry). Its message names only the
 * cause (a status, a timeout): never the text sent, which carries a code, nor a secret.
 */
export class SmsDeliveryError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SmsDeliveryError'
  }
}
