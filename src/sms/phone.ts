/** E.164: '+', a country code that never starts with 0, 8 to 15 digits in all (also the API's body pattern). */
export const E164_PATTERN = '^\\+[1-9][0-9]{7,14}$'
const E164 = new RegExp(E164_PATTERN)

export function isE164 (s: string): boolean {
  return E164.test(s)
}

/**
 * A phone number fit for logs: the country code's first digits and the last two, enough to tell
 * numbers apart when debugging without putting whole numbers (personal data) in the log.
 */
export function maskPhone (e164: string): string {
  // Anything else is not a number we send to; show nothing of it rather than guess its shape.
  if (!isE164(e164)) return '•••'
  const digits = e164.slice(1)
  return '+' + digits.slice(0, 2) + '•'.repeat(digits.length - 4) + digits.slice(-2)
}
