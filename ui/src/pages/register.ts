import { api, messageOf, retryAfter, startSession } from '../api.js'
import { countdown, field, h, page, say, status } from '../dom.js'
import { go } from '../router.js'

/** Register, sign in with the new password, and go on to set up two-factor. */
export function registerPage () {
  const username = field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' })
  const password = field('Password', { name: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 }, 'At least 8 characters.')
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create account')
  const message = status()
  const form = h('form', { novalidate: true }, username.wrap, password.wrap, message, h('div', { class: 'actions' }, submit))
  page('Create an account', form, h('p', {}, 'Already registered? ', h('a', { href: '#/sign-in' }, 'Sign in')))
  username.input.focus()

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    ;(async () => {
      const credentials = { username: username.input.value.trim(), password: password.input.value }
      if (credentials.username === '' || credentials.password.length < 8) { say(message, 'Choose a username and a password of at least 8 characters.', 'error'); return }
      submit.disabled = true
      const created = await api.POST('/users', { body: credentials })
      if (created.error !== undefined) {
        submit.disabled = false
        if (created.response.status === 409) say(message, 'That username is taken: choose another one.', 'error')
        else if (created.response.status === 429) countdown(message, retryAfter(created.response), submit, wait => `Too many attempts. Try again in ${wait}.`, () => say(message, ''))
        else say(message, messageOf(created.error), 'error')
        return
      }
      const { data, error } = await api.POST('/login', { body: credentials })
      submit.disabled = false
      if (data === undefined) { say(message, messageOf(error), 'error'); return }
      startSession(data)
      go('#/enrol')
    })()
  })
}
