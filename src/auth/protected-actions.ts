/**
 * Actions a user with TFA on can choose to protect with a code, each on its own (users expect to
 * pick which areas ask again). Disabling TFA and regenerating recovery codes always need one.
 * The default for new users, both, is the database column's default (prisma/schema.prisma).
 */
export const PROTECTED_ACTIONS = ['login', 'password_change'] as const
export type ProtectedAction = typeof PROTECTED_ACTIONS[number]
export const ALWAYS_PROTECTED = ['tfa_disable', 'recovery_codes_regenerate', 'tfa_settings_change'] as const

export const isProtected = (actions: string[], action: ProtectedAction) => actions.includes(action)
