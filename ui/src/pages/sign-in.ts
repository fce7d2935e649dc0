import { api, messageOf, retryAfter, startSession } from '../api.js'
import { codeField, countdown, field, h, page, say, status } from '../dom.js'
import { go } from '../router.js'

// The catalogue's messages that tell the two 401s of a login apart (see openapi.json, POST /login).
const TFA_REQUIRED = 'Additional authentications steps required.'
const RECEIPT_INVALID = 'This login can no longer be completed: start the login again with your password.'

const PROMPT = {
  totp: 'Open your authenticator app and enter the 6-digit code for this account.',
  sms: 'We sent a code to your phone: enter it here.'
} as const

/**
 * Sign in: username and password (a code may follow the password directly). When the password is
 * right and a code is wanted, the documented 401 brings the code field and a receipt: the password
 * is dropped and the code goes to POST /login/tfa with the receipt.
 */
export function signInPage (notice?: string) {
  const username = field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' })
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }, 'With two-factor on you may type the code right after the password.')
  const code = codeField('Code')
  const recovery = field('Recovery code', { name: 'recovery_code', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' }, 'One of the codes you saved, e.g. k7pq-2m9d-x4hz-0c8w. Each works once.')
  const remember = h('input', { type: 'checkbox', id: 'remember', name: 'remember_device' })
  const prompt = h('p', { class: 'prompt', id: 'tfa-prompt' })
  const useRecovery = h('button', { type: 'button', class: 'link' }, 'Use a recovery code')
  const restart = h('button', { type: 'button', class: 'link' }, 'Restart login')
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in')
  const message = status()
  const second = h('fieldset', { class: 'second', hidden: true },
    h('legend', {}, 'Two-factor authentication'), prompt, code.wrap, recovery.wrap,
    h('div', { class: 'check' }, remember, h('label', { for: 'remember' }, 'Remember this device')),
    h('div', { class: 'actions' }, useRecovery, restart))
  const first = h('div', {}, username.wrap, password.wrap)
  const form = h('form', { novalidate: true }, first, second, message, h('div', { class: 'actions' }, submit))
  page('Sign in', notice ? h('p', { class: 'notice' }, notice) : null, form,
    h('p', {}, 'New here? ', h('a', { href: '#/register' }, 'Create an account')))
  username.input.focus()

  let receipt: string | undefined
  let withRecovery = false
  const showCodeStep = (method: string | null) => {
    first.hidden = true
    second.hidden = false
    // No password kept: the receipt stands for it from here on.
    password.input.value = ''
    password.input.required = false
    prompt.textContent = method === 'sms' ? PROMPT.sms : PROMPT.totp
    setRecovery(false)
  }
  const setRecovery = (on: boolean) => {
    withRecovery = on
    code.wrap.hidden = on
    recovery.wrap.hidden = !on
    code.input.required = !on
    recovery.input.required = on
    useRecovery.textContent = on ? 'Use a code from the app instead' : 'Use a recovery code'
    ;(on ? recovery.input : code.input).focus()
  }
  const reset = (text?: string) => {
    receipt = undefined
    first.hidden = false
    second.hidden = true
    password.input.required = true
    code.input.value = ''
    recovery.input.value = ''
    remember.checked = false
    if (text !== undefined) say(message, text, 'error')
    else say(message, '')
    password.input.focus()
  }
  useRecovery.addEventListener('click', () => setRecovery(!withRecovery))
  restart.addEventListener('click', () => reset())

  const wait = (response: Response, what: string) => countdown(message, retryAfter(response), submit,
    wait => `${what} Try again in ${wait}.`, () => say(message, 'You can try again now.'))

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    if (submit.disabled) return
    ;(receipt === undefined ? passwordStep() : codeStep())
  })

  async function passwordStep () {
    if (username.input.value.trim() === '' || password.input.value === '') { say(message, 'Enter your username and password.', 'error'); return }
    submit.disabled = true
    const { data, error, response } = await api.POST('/login', { body: { username: username.input.value, password: password.input.value } })
    submit.disabled = false
    if (data !== undefined) { done(data); return }
    const text = messageOf(error)
    if (response.status === 401 && text === TFA_REQUIRED) {
      receipt = response.headers.get('X-TFA-Receipt') ?? undefined
      showCodeStep(response.headers.get('X-TFA-Method'))
      say(message, '')
    } else if (response.status === 401) {
      say(message, 'Wrong username or password.', 'error')
      password.input.select()
    } else if (response.status === 429) {
      wait(response, 'Too many attempts.')
    } else say(message, text, 'error')
  }

  async function codeStep () {
    const value = (withRecovery ? recovery.input : code.input).value.trim()
    if (value === '') { say(message, withRecovery ? 'Enter a recovery code.' : 'Enter the 6-digit code.', 'error'); return }
    submit.disabled = true
    const body = { receipt: receipt!, remember_device: remember.checked, ...(withRecovery ? { recovery_code: value } : { totp: value }) }
    const { data, error, response } = await api.POST('/login/tfa', { body })
    submit.disabled = false
    if (data !== undefined) { done(data); return }
    const text = messageOf(error)
    if (response.status === 401 && text === TFA_REQUIRED) {
      receipt = response.headers.get('X-TFA-Receipt') ?? receipt
      say(message, withRecovery
        ? 'That recovery code is wrong or was already used.'
        : 'That code is wrong or was already used: wait for the next one and enter it.', 'error')
      ;(withRecovery ? recovery.input : code.input).select()
    } else if (response.status === 401 && text === RECEIPT_INVALID) {
      reset('This sign-in expired: enter your password again.')
    } else if (response.status === 429) {
      reset()
      wait(response, 'Too many wrong codes: two-factor sign-in is locked for now.')
    } else say(message, text, 'error')
  }
}

function done (tokens: Parameters<typeof startSession>[0]) {
  const session = startSession(tokens)
  go(session.enrolmentOnly ? '#/enrol' : '#/security')
}
