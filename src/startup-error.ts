/**
 * The process can't start because of its surroundings (a database out of reach), not its code:
 * reported as one line naming the variable to check, without a stack.
 */
export class StartupError extends Error {
  constructor (readonly variable: string, detail: string, options?: { cause?: unknown }) {
    super(`Cannot start: ${variable}: ${detail}`, options)
    this.name = 'StartupError'
  }
}
