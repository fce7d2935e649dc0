import fp from 'fastify-plugin'
import { createAccountService, type AccountService } from '../auth/accounts.js'
import { createAdminService, type AdminService } from '../auth/admin.js'
import { createApiKeyService, type ApiKeyService } from '../auth/api-keys.js'
import { createSmsTfaService, type SmsTfaService } from '../auth/sms-tfa.js'
import { createTfaService, type TfaService } from '../auth/tfa.js'
import { createUserService, type UserService } from '../auth/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    users: UserService
    accounts: AccountService
    tfa: TfaService
    smsTfa: SmsTfaService
    admin: AdminService
    apiKeys: ApiKeyService
  }
}

/** The domain services the routes call, built once over the shared clients and the second factor. */
export default fp(async function servicesPlugin (app) {
  const { config, prisma, passwords, secondFactor, secretBox, smsCodes: sms, audit, now, sessions } = app
  app.decorate('users', createUserService({ prisma, passwords, audit, registration: config.registration, adminRequiresTfa: config.adminRequiresTfa }))
  app.decorate('accounts', createAccountService({ prisma, passwords, secondFactor, audit, config, now, sessions }))
  app.decorate('tfa', createTfaService({ prisma, secondFactor, secretBox, config, audit, now, sessions }))
  app.decorate('smsTfa', createSmsTfaService({ prisma, secondFactor, secretBox, sms, audit, now, sessions }))
  app.decorate('admin', createAdminService({ prisma, secondFactor, audit, sessions }))
  app.decorate('apiKeys', createApiKeyService({ prisma, audit, now, sessions }))
}, { name: 'services', dependencies: ['config', 'prisma', 'passwords', 'audit', 'second-factor', 'sessions'] })
