import { AppError } from '../errors.js'
import { Prisma, type PrismaClient } from '../generated/prisma/client.js'
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, passwordBytes, type PasswordHasher } from './passwords.js'

/** Usernames are case-insensitive: "Alice" and "alice" are one account, stored lower-case. */
export const normalizeUsername = (username: string) => username.toLowerCase()

export function assertPasswordPolicy (password: string): void {
  const bytes = passwordBytes(password)
  if (bytes > MAX_PASSWORD_BYTES) throw new AppError('passwordTooLong')
  if (bytes < MIN_PASSWORD_BYTES) throw new AppError('validation', `Password must be at least ${MIN_PASSWORD_BYTES} bytes long.`)
}

export async function registerUser (deps: { prisma: PrismaClient, passwords: PasswordHasher }, input: { username: string, password: string, kind?: 'human' | 'automation' }) {
  assertPasswordPolicy(input.password)
  const passwordHash = await deps.passwords.hash(input.password)
  try {
    return await deps.prisma.user.create({
      data: { username: normalizeUsername(input.username), passwordHash, kind: input.kind ?? 'human' },
      select: { id: true, username: true }
    })
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw new AppError('usernameTaken')
    throw err
  }
}
