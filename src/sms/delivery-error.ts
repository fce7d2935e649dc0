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
