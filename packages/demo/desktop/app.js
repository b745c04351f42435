// The demo agent desktop: everything a self-hosted desktop does with the Lanyard SDK, in plain JS.
import { ConfigError, LanyardClient } from '/sdk/lanyard-sdk.js';

const $ = (id) => document.getElementById(id);
const time = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const SIGNED_OUT = {
  user: 'You signed out.',
  otherTab: 'You were signed out in another tab.',
  expired: 'Your session has ended. Sign in again to continue.',
  revoked: 'Your session was ended by the sign-in server. Sign in again to continue.',
};

let client;
let session = null;
let countdown;

function showError(error) {
  const region = $('error');
  region.hidden = false;
  region.dataset.code = error.code ?? 'unexpected';
  region.textContent = error.message;
  if (error instanceof ConfigError) {
    $('config-problems').hidden = false;
    $('config-problems').open = true;
    $('problem-list').replaceChildren(
      ...error.problems.map((p) => {
        const item = document.createElement('li');
        const field = document.createElement('code');
        field.textContent = p.field;
        item.append(field, ': ', p.message);
        return item;
      }),
    );
  }
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
  delete $('error').dataset.code;
}

function notice(text) {
  $('notice').textContent = text;
}

function render(next) {
  session = next;
  $('completing').hidden = true;
  $('signed-out').hidden = session !== null;
  $('signed-in').hidden = session === null;
  window.clearInterval(countdown);
  if (!session) return;
  const { user } = session;
  $('full-name').textContent = user.fullName ?? user.identity;
  $('email').textContent = user.email ?? '—';
  $('roles').replaceChildren(
    ...user.roles.map((role) => {
      const item = document.createElement('li');
      item.textContent = role;
      return item;
    }),
  );
  $('identity').textContent = user.identity;
  setTime($('token-expiry'), session.expiresAt);
  setTime($('session-end'), session.sessionExpiresAt);
  tick();
  countdown = window.setInterval(tick, 1000);
}

function setTime(element, ms) {
  if (ms === null) {
    element.removeAttribute('datetime');
    element.textContent = 'told at the first refresh';
    return;
  }
  element.dateTime = new Date(ms).toISOString();
  element.textContent = time(ms);
}

function tick() {
  if (!session) return;
  const left = Math.round((session.expiresAt - Date.now()) / 1000);
  $('countdown').textContent = left > 0 ? `(in ${Math.floor(left / 60)} min ${String(left % 60).padStart(2, '0')} s)` : '(expired)';
}

async function start() {
  try {
    client = LanyardClient.fromAppConfig(window.appConfig);
  } catch (error) {
    $('mode').textContent = 'Not configured';
    showError(error);
    return;
  }
  $('mode').textContent = client.mode === 'enhanced' ? 'Enhanced SSO (OAuth 2.0 + PKCE)' : 'Legacy SSO (token on the URL)';
  $('popup').checked = client.config.loginPopup;
  // In the sign-in pop-up, the SDK reports to the opener and closes this window.
  const inPopup = client.isPopupCallback;
  $('completing').hidden = !inPopup;

  client.on('tokenUpdated', (next, { source }) => {
    render(next);
    $('last-update').textContent =
      `${time(Date.now())} (${{ signIn: 'sign-in', refresh: 'refreshed by this tab', otherTab: 'from another tab' }[source]})`;
    if (source !== 'signIn') notice(`Access token refreshed; it now expires at ${time(next.expiresAt)}.`);
  });
  client.on('sessionExpiring', ({ sessionExpiresAt }) => {
    $('warning').hidden = false;
    $('warning').textContent = `Your session ends at ${time(sessionExpiresAt)}. Save your work; you will need to sign in again.`;
  });
  client.on('signedOut', ({ reason }) => {
    render(null);
    $('warning').hidden = true;
    notice(SIGNED_OUT[reason] ?? 'You are signed out.');
  });
  client.on('error', showError);
  // The pop-up's lost link is news for the agent, not a setup problem.
  client.on('warning', (warning) => notice(warning.code === 'popup_opener_cut' ? warning.message : `Setup warning: ${warning.message}`));

  $('sign-in').addEventListener('click', () => {
    clearError();
    notice($('popup').checked ? 'Signing in in a pop-up window…' : 'Going to your identity provider…');
    // No `await` before signIn: a pop-up must open within the click.
    client.signIn({ popup: $('popup').checked }).then(
      (signedIn) => signedIn && notice('Signed in.'),
      (error) => {
        notice('');
        showError(error);
      },
    );
  });
  $('refresh').addEventListener('click', () => {
    clearError();
    client.refresh().catch(showError);
  });
  $('sign-out').addEventListener('click', () => {
    clearError();
    client.signOut().catch(showError);
  });

  try {
    const signedIn = await client.handleCallback();
    if (inPopup) return;
    render(signedIn);
  } catch (error) {
    render(client.getSession());
    showError(error);
  }
  document.body.dataset.ready = 'true';
}

start();
