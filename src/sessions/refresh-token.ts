import { createTokenFormat } from '../auth/opaque-token.js'

/** Refresh tokens: the API-key format with their own prefix, so scanners and logs tell them apart. */
const refreshTokenFormat = createTokenFormat('twofold_rt_')

export const REFRESH_TOKEN_PREFIX = refreshTokenFormat.prefix
export const generateRefreshToken = (): string => refreshTokenFormat.generate()
/** True when `token` has the shape and a matching checksum; says nothing about whether it exists. */
export const isWellFormedRefreshToken = (token: string): boolean => refreshTokenFormat.isWellFormed(token)
export const hashRefreshToken = (token: string): string => refreshTokenFormat.hash(token)
