import { AdminUserSchema } from './admin.js'
import { ApiKeySummarySchema } from './api-keys.js'
import { EventPageSchema, SecurityEventSchema } from './events.js'
import { TokenResponseSchema } from './login.js'
import { ErrorSchema } from './responses.js'
import { SessionListSchema, SessionSchema } from './sessions.js'
import { CodeSentSchema } from './sms.js'
import { TfaSettingsSchema, TfaStatusSchema, TrustedDeviceListSchema, TrustedDeviceSchema } from './tfa.js'
import { AuthorizationServerMetadataSchema, IntrospectionResponseSchema, JwksSchema, PublicJwkSchema } from './token-verification.js'
import { UserSchema } from './users.js'

/** Schemas with an $id, registered once on the app: routes refer to them, OpenAPI names its components after them. */
export const SHARED_SCHEMAS = [ErrorSchema, TokenResponseSchema, UserSchema, TfaStatusSchema, TfaSettingsSchema, SecurityEventSchema, EventPageSchema, AdminUserSchema, ApiKeySummarySchema, CodeSentSchema, SessionSchema, SessionListSchema, TrustedDeviceSchema, TrustedDeviceListSchema,
  PublicJwkSchema, JwksSchema, AuthorizationServerMetadataSchema, IntrospectionResponseSchema]
