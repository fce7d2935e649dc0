import fp from 'fastify-plugin'
import { createLoginService } from '../auth/login.js'
import { createPasswordHasher, type PasswordHasher } from '../auth/passwords.js'
import { createSecondFactorService, type SecondFactorService } from '../auth/second-factor.js'
import { createSecretBox } from '../auth/secret-box.js'
import { createTfaEnrolment, type TfaEnrolment } from '../auth/tfa-enrolment.js'

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher
    secondFactor: SecondFactorService
    login: ReturnType<typeof createLoginService>
    tfa: TfaEnrolment
  }
}

/** Builds the domain services once, over the shared clients. */
export default fp(async function servicesPlugin (app) {
  const { config, prisma, store, now } = app
  const { encryptionKey, decryptionKeys } = config.tfa
  if (encryptionKey === undefined) throw new Error('TOTP encryption key must be resolved before buildApp (see resolveLocalSecrets)')
  const secretBox = createSecretBox(encryptionKey, decryptionKeys)
  const passwords = createPasswordHasher({ cost: config.bcryptCost, maxPending: config.maxPendingHashes })
  const secondFactor = createSecondFactorService({ prisma, store, secretBox, config, now })
  app.decorate('passwords', passwords)
  app.decorate('secondFactor', secondFactor)
  app.decorate('login', createLoginService({ prisma, passwords, secondFactor, config }))
  app.decorate('tfa', createTfaEnrolment({ prisma, secondFactor, secretBox, config }))
}, { name: 'services', dependencies: ['config', 'prisma', 'store'] })
