import { resumeSession, session, signOut } from './api.js'
import { h } from './dom.js'
import { enrolPage } from './pages/enrol.js'
import { registerPage } from './pages/register.js'
import { securityPage } from './pages/security.js'
import { signInPage } from './pages/sign-in.js'
import { go } from './router.js'

function renderNav () {
  const nav = document.getElementById('nav')!
  nav.replaceChildren(...(session() === undefined
    ? [h('a', { href: '#/sign-in' }, 'Sign in'), h('a', { href: '#/register' }, 'Register')]
    : [h('a', { href: '#/security' }, 'Security'), h('button', { type: 'button', class: 'link', onclick: () => { signOut().then(() => go('#/sign-in')) } }, 'Sign out')]))
}

async function render () {
  const route = location.hash
  const signedIn = session() !== undefined
  renderNav()
  if (route === '#/register') registerPage()
  else if (!signedIn || route === '#/sign-in') {
    if (signedIn && route === '#/sign-in') await signOut()
    renderNav()
    signInPage()
  } else if (route === '#/enrol' || session()?.enrolmentOnly === true) await enrolPage()
  else await securityPage()
}

window.addEventListener('hashchange', () => { render() })
// A reload keeps the session: the HttpOnly refresh cookie gets a new access token.
resumeSession().then(() => {
  if (location.hash === '' || (session() !== undefined && location.hash === '#/sign-in')) location.hash = session() === undefined ? '#/sign-in' : '#/security'
  else render()
})
