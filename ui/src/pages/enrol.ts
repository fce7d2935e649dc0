import { api, forgetSession, messageOf, session } from '../api.js'
import { codeField, field, h, page, recoveryCodes, say, status } from '../dom.js'
import { go } from '../router.js'

const INVALID_TOKEN = 'Invalid token.'

/** Enrol: choose app or SMS, scan (or type) the secret, confirm with the first code, keep the recovery codes. */
export async function enrolPage () {
  const state = await api.GET('/tfa')
  if (state.data === undefined) { go('#/sign-in'); return }
  const current = session()
  const mandatory = current?.enrolmentOnly === true
    ? h('p', { class: 'notice', role: 'alert' }, 'Two-factor authentication is mandatory on this service: set it up now to use your account. You will then sign in again with your code.')
    : current?.reminder !== undefined
      ? h('p', { class: 'notice' }, `Two-factor authentication becomes mandatory on ${new Date(current.reminder).toLocaleDateString()}: set it up now.`)
      : null
  if (state.data.enabled) {
    page('Set up two-factor', h('p', {}, `Two-factor is already on (${state.data.method === 'sms' ? 'SMS' : 'authenticator app'}). To switch method, turn the current one off first on the `, h('a', { href: '#/security' }, 'Security page'), '.'))
    return
  }
  const app = h('input', { type: 'radio', name: 'method', id: 'method-app', value: 'totp', checked: true })
  const sms = h('input', { type: 'radio', name: 'method', id: 'method-sms', value: 'sms' })
  const start = h('button', { type: 'submit', class: 'primary' }, 'Continue')
  const choice = h('form', {},
    h('fieldset', {}, h('legend', {}, 'How do you want to get your codes?'),
      h('div', { class: 'check' }, app, h('label', { for: 'method-app' }, 'An authenticator app (recommended)')),
      h('div', { class: 'check' }, sms, h('label', { for: 'method-sms' }, 'A text message (SMS) to my phone'))),
    h('div', { class: 'actions' }, start))
  const step = h('div', {})
  page('Set up two-factor', mandatory, choice, step)
  choice.addEventListener('submit', (event) => {
    event.preventDefault()
    choice.hidden = true
    ;(sms.checked ? smsSteps(step) : appSteps(step))
  })
}

async function appSteps (step: HTMLElement) {
  const message = status()
  step.replaceChildren(message)
  const { data, error } = await api.POST('/tfa/enable', { body: {} })
  if (data === undefined) { say(message, messageOf(error), 'error'); return }
  const grouped = data.secret.match(/.{1,4}/g)?.join(' ') ?? data.secret
  const copy = h('button', { type: 'button' }, 'Copy')
  copy.addEventListener('click', () => { navigator.clipboard.writeText(data.secret).then(() => { copy.textContent = 'Copied' }, () => { copy.textContent = 'Select and copy it by hand' }) })
  const code = codeField('The 6-digit code the app shows')
  const name = field('Device name (optional)', { name: 'device_name', maxlength: 64, autocomplete: 'off', placeholder: 'unnamed' }, 'Left blank, it is called “unnamed”.')
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Turn on two-factor')
  const form = h('form', { novalidate: true }, code.wrap, name.wrap, message, h('div', { class: 'actions' }, submit))
  step.replaceChildren(
    h('h2', {}, '1. Scan this code with your authenticator app'),
    h('img', { class: 'qr', src: data.qr_code, alt: 'QR code to add this account to an authenticator app', width: 200, height: 200 }),
    ...(data.warning ? [h('p', { class: 'notice' }, data.warning)] : []),
    h('details', {}, h('summary', {}, 'Unable to scan?'),
      h('p', {}, 'Enter this key in the app instead (time-based, 6 digits, 30 seconds):'),
      h('p', { class: 'secret' }, h('code', { 'data-testid': 'secret', 'data-secret': data.secret }, grouped), ' ', copy)),
    h('h2', {}, '2. Enter the code it shows'),
    form)
  code.input.focus()
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    ;(async () => {
      const totp = code.input.value.trim()
      if (totp === '') { say(message, 'Enter the 6-digit code.', 'error'); return }
      submit.disabled = true
      const deviceName = name.input.value.trim()
      const result = await api.POST('/tfa/validate', { body: { totp, ...(deviceName === '' ? {} : { device_name: deviceName }) } })
      submit.disabled = false
      if (result.data !== undefined) { showCodes(step, result.data.recovery_codes); return }
      const text = messageOf(result.error)
      say(message, text === INVALID_TOKEN
        ? 'Invalid token. That code did not match: scan the QR code again (or re-enter the key), then type the newest code.'
        : text, 'error')
      code.input.select()
    })()
  })
}

async function smsSteps (step: HTMLElement) {
  const phone = field('Mobile number', { name: 'phone', type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: true, placeholder: '+4915123456789' }, 'In international format, starting with +.')
  const message = status()
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send me a code')
  const numberForm = h('form', { novalidate: true }, phone.wrap, message, h('div', { class: 'actions' }, send))
  step.replaceChildren(numberForm)
  phone.input.focus()
  numberForm.addEventListener('submit', (event) => {
    event.preventDefault()
    ;(async () => {
      send.disabled = true
      const sent = await api.POST('/tfa/sms/phone', { body: { phone: phone.input.value.trim() } })
      send.disabled = false
      if (sent.error !== undefined) { say(message, messageOf(sent.error), 'error'); return }
      const code = codeField('The code we sent to your phone')
      const name = field('Device name (optional)', { name: 'device_name', maxlength: 64, autocomplete: 'off', placeholder: 'unnamed' }, 'Left blank, it is called “unnamed”.')
      const verify = h('button', { type: 'submit', class: 'primary' }, 'Turn on two-factor')
      const codeMessage = status()
      const codeForm = h('form', { novalidate: true }, code.wrap, name.wrap, codeMessage, h('div', { class: 'actions' }, verify))
      step.replaceChildren(h('p', {}, 'We sent a code to your phone.'), codeForm)
      code.input.focus()
      codeForm.addEventListener('submit', (e) => {
        e.preventDefault()
        ;(async () => {
          const deviceName = name.input.value.trim()
          const result = await api.POST('/tfa/sms/verify', { body: { code: code.input.value.trim(), ...(deviceName === '' ? {} : { device_name: deviceName }) } })
          if (result.data !== undefined) { showCodes(step, result.data.recovery_codes); return }
          say(codeMessage, messageOf(result.error) === INVALID_TOKEN ? 'Invalid token. That code did not match: check the SMS and try again.' : messageOf(result.error), 'error')
        })()
      })
    })()
  })
}

function showCodes (step: HTMLElement, codes: string[]) {
  const enrolmentOnly = session()?.enrolmentOnly === true
  step.replaceChildren(h('p', { class: 'ok', role: 'status' }, 'Two-factor authentication is on.'),
    recoveryCodes(codes, () => {
      if (!enrolmentOnly) { go('#/security'); return }
      // The enrolment-only token can do nothing more: a real sign-in, with the code, comes next.
      forgetSession()
      go('#/sign-in')
    }))
}
