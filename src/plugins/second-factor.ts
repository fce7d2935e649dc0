import fp from 'fastify-plugin'
import { createSecondFactorService, type SecondFactorService } from '../auth/second-factor.js'
import { createSecretBox, type SecretBox } from '../auth/secret-box.js'
import { createSmsCodes, type SmsCodes } from '../auth/sms-codes.js'
import { createSmsTransport } from '../sms/create-transport.js'

declare module 'fastify' {
  interface FastifyInstance {
    secretBox: SecretBox
    smsCodes: SmsCodes
    secondFactor: SecondFactorService
  }
}

/** The second factor's machinery: secrets sealed at rest, SMS codes, and the code checks over the store. */
export default fp(async function secondFactorPlugin (app) {
  const { config, prisma, store, now, audit } = app
  const { encryptionKey, decryptionKeys } = config.tfa
  if (encryptionKey === undefined) throw new Error('TOTP encryption key must be resolved before buildApp (see resolveLocalSecrets)')
  const secretBox = createSecretBox(encryptionKey, decryptionKeys)
  const sms = createSmsCodes({ store, transport: createSmsTransport(config.sms, app.log), hashKeySource: encryptionKey.key, issuer: config.tfa.issuer, now, audit, limits: config.smsLimits })
  app.decorate('secretBox', secretBox)
  app.decorate('smsCodes', sms)
  app.decorate('secondFactor', createSecondFactorService({ prisma, store, secretBox, config, now, audit, sms }))
}, { name: 'second-factor', dependencies: ['config', 'prisma', 'store', 'audit'] })
