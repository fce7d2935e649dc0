/**
 * Actions a user with TFA on can choose to protect with a code (seed 001: "each protected area
 * can be individually selected"). Disabling TFA and regenerating recovery codes always need one.
 */
export const PROTECTED_ACTIONS = ['login', 'password_change'] as const
export type ProtectedAction = typeof PROTECTED_ACTIONS[number]
export const DEFAULT_PROTECTED_ACTIONS: ProtectedAction[] = ['login', 'password_change']
export const ALWAYS_PROTECTED = ['tfa_disable', 'recovery_codes_regenerate', 'tfa_settings_change'] as const

export const isProtected = (actions: string[], action: ProtectedAction) => actions.includes(action)
