import { UAParser } from 'ua-parser-js'

/** "Firefox on Linux", "Safari on iOS": what a user recognises on a devices page. */
export function deviceNameFrom (userAgent: string | undefined): string {
  if (userAgent === undefined || userAgent.trim() === '') return 'Unknown device'
  const { browser, os } = new UAParser(userAgent).getResult()
  const name = [browser.name, os.name].filter((part): part is string => part !== undefined && part !== '').join(' on ')
  // Scripts and apps have no browser to name: their own product token is what their owner knows.
  return Array.from(name !== '' ? name : userAgent.trim()).slice(0, 128).join('')
}
