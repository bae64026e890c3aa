// tokenconfirm demo portal: vanilla ES module, no dependencies, no build step.
// Talks to /api/v1 (see docs/openapi.yaml) and, for e-signature steps, to the page
// library /page/tokenconfirm.js (docs/protocol.md §5), which may not be installed.

const I18N = {
  ru: {
    title: 'Портал государственных услуг — демонстрация tokenconfirm',
    demoNote: 'Демонстрационный стенд с тестовыми сертификатами. Не вводите настоящие персональные данные.',
    skip: 'Перейти к содержимому',
    langSwitch: 'English',
    loading: 'Загрузка…',
    anonHeading: 'Вход и регистрация',
    loginHeading: 'Вход',
    loginLabel: 'Электронная почта или телефон',
    loginHint: 'Например, ivanov@example.ru или +79001234567',
    loginShort: 'Логин',
    passwordLabel: 'Пароль',
    passwordHint: 'Не используйте пароль от других сайтов',
    loginSubmit: 'Войти',
    registerHeading: 'Регистрация',
    registerIntro: 'Упрощённая учётная запись: затем заполните профиль и подтвердите её подписью.',
    nameLabel: 'Имя',
    nameHint: 'Как к вам обращаться',
    registerSubmit: 'Зарегистрироваться',
    esigRegHeading: 'Регистрация с электронной подписью',
    esigRegIntro: 'Сразу подтверждённая учётная запись по сертификату на вашем токене.',
    registerEsig: 'Зарегистрироваться с электронной подписью',
    esigRegSubmit: 'Подписать и зарегистрироваться',
    cancel: 'Отмена',
    accountHeading: 'Личный кабинет',
    logout: 'Выйти',
    accHeading: 'Учётная запись',
    levelLabel: 'Уровень учётной записи',
    confirmedAtLabel: 'Подтверждена',
    level_simplified: 'Упрощённая',
    level_standard: 'Стандартная',
    level_confirmed: 'Подтверждённая',
    hint_simplified: 'Заполните профиль, чтобы получить стандартную учётную запись.',
    hint_standard: 'Подтвердите учётную запись электронной подписью, чтобы получить доступ ко всем услугам.',
    hint_confirmed: 'Учётная запись подтверждена квалифицированной электронной подписью.',
    certHeading: 'Сертификат электронной подписи',
    certSubject: 'Владелец',
    certIssuer: 'Издатель',
    certSerial: 'Серийный номер',
    certNotAfter: 'Действителен до',
    confirmHeading: 'Подтверждение учётной записи',
    confirmIntro: 'Подключите токен. Окно tokenconfirm покажет этот сайт и цель подписи; ПИН-код вводится только там.',
    confirmEsig: 'Подтвердить электронной подписью',
    profileHeading: 'Профиль',
    profileIntro: 'Данные должны совпадать с сертификатом электронной подписи.',
    surnameLabel: 'Фамилия',
    firstNameLabel: 'Имя',
    patronymicLabel: 'Отчество (если есть)',
    birthDateLabel: 'Дата рождения',
    snilsLabel: 'СНИЛС',
    snilsHint: '11 цифр, например 112-233-445 95',
    passportSeriesLabel: 'Серия паспорта',
    passportSeriesHint: '4 цифры',
    passportNumberLabel: 'Номер паспорта',
    passportNumberHint: '6 цифр',
    profileSubmit: 'Сохранить профиль',
    esigMissing: 'Расширение tokenconfirm не установлено. Установите расширение и приложение tokenconfirm-agent, затем обновите страницу.',
    esigIntegrators: 'Для интеграторов: подтверждение без браузера —',
    // status messages
    msgRequired: 'Заполните обязательные поля.',
    msgSnils: 'СНИЛС должен состоять из 11 цифр.',
    msgSeries: 'Серия паспорта — 4 цифры.',
    msgNumber: 'Номер паспорта — 6 цифр.',
    msgNetwork: 'Нет связи с сервером. Повторите попытку.',
    msgHttp: 'Ошибка сервера. Повторите позже.',
    msgLoggedIn: 'Вы вошли в личный кабинет.',
    msgRegistered: 'Учётная запись создана. Вы вошли в личный кабинет.',
    msgLoggedOut: 'Вы вышли из личного кабинета.',
    msgProfileSaved: 'Профиль сохранён.',
    msgChallenge: 'Получаем запрос на подтверждение…',
    msgSignPrompt: 'Выберите сертификат и введите ПИН-код в окне tokenconfirm.',
    msgVerifying: 'Проверяем подпись…',
    msgConfirmed: 'Учётная запись подтверждена электронной подписью.',
    msgRegisteredEsig: 'Подтверждённая учётная запись создана. Вы вошли в личный кабинет.',
    msgEsigMissing: 'Расширение tokenconfirm не найдено.',
    msgLibError: 'Не удалось выполнить подпись.',
  },
  en: {
    title: 'State services portal — tokenconfirm demo',
    demoNote: 'Demo system with test certificates. Do not enter real personal data.',
    skip: 'Skip to content',
    langSwitch: 'Русский',
    loading: 'Loading…',
    anonHeading: 'Log in or register',
    loginHeading: 'Log in',
    loginLabel: 'E-mail or phone number',
    loginHint: 'For example ivanov@example.ru or +79001234567',
    loginShort: 'Login',
    passwordLabel: 'Password',
    passwordHint: 'Do not reuse a password from other sites',
    loginSubmit: 'Log in',
    registerHeading: 'Register',
    registerIntro: 'A simplified account: then fill in your profile and confirm it with your signature.',
    nameLabel: 'Name',
    nameHint: 'How we should address you',
    registerSubmit: 'Register',
    esigRegHeading: 'Register with an e-signature',
    esigRegIntro: 'A confirmed account right away, from the certificate on your token.',
    registerEsig: 'Register with an e-signature',
    esigRegSubmit: 'Sign and register',
    cancel: 'Cancel',
    accountHeading: 'My account',
    logout: 'Log out',
    accHeading: 'Account',
    levelLabel: 'Account level',
    confirmedAtLabel: 'Confirmed',
    level_simplified: 'Simplified',
    level_standard: 'Standard',
    level_confirmed: 'Confirmed',
    hint_simplified: 'Fill in your profile to make the account standard.',
    hint_standard: 'Confirm the account with your e-signature to use every service.',
    hint_confirmed: 'The account is confirmed with a qualified electronic signature.',
    certHeading: 'E-signature certificate',
    certSubject: 'Holder',
    certIssuer: 'Issuer',
    certSerial: 'Serial number',
    certNotAfter: 'Valid until',
    confirmHeading: 'Account confirmation',
    confirmIntro: 'Connect your token. The tokenconfirm window shows this site and the purpose; enter the PIN only there.',
    confirmEsig: 'Confirm with an e-signature',
    profileHeading: 'Profile',
    profileIntro: 'The data must match your e-signature certificate.',
    surnameLabel: 'Surname',
    firstNameLabel: 'First name',
    patronymicLabel: 'Patronymic (if any)',
    birthDateLabel: 'Date of birth',
    snilsLabel: 'SNILS',
    snilsHint: '11 digits, e.g. 112-233-445 95',
    passportSeriesLabel: 'Passport series',
    passportSeriesHint: '4 digits',
    passportNumberLabel: 'Passport number',
    passportNumberHint: '6 digits',
    profileSubmit: 'Save profile',
    esigMissing: 'The tokenconfirm extension is not installed. Install the extension and the tokenconfirm-agent application, then reload the page.',
    esigIntegrators: 'For integrators: confirmation without a browser —',
    msgRequired: 'Fill in the required fields.',
    msgSnils: 'The SNILS must have 11 digits.',
    msgSeries: 'The passport series is 4 digits.',
    msgNumber: 'The passport number is 6 digits.',
    msgNetwork: 'Cannot reach the server. Try again.',
    msgHttp: 'Server error. Try again later.',
    msgLoggedIn: 'You are logged in.',
    msgRegistered: 'The account was created. You are logged in.',
    msgLoggedOut: 'You have logged out.',
    msgProfileSaved: 'The profile was saved.',
    msgChallenge: 'Requesting a confirmation challenge…',
    msgSignPrompt: 'Choose the certificate and enter the PIN in the tokenconfirm window.',
    msgVerifying: 'Verifying the signature…',
    msgConfirmed: 'The account is confirmed with your e-signature.',
    msgRegisteredEsig: 'The confirmed account was created. You are logged in.',
    msgEsigMissing: 'The tokenconfirm extension was not found.',
    msgLibError: 'Signing failed.',
  },
};

const LEVELS = ['simplified', 'standard', 'confirmed'];
const PROFILE = ['surname', 'firstName', 'patronymic', 'birthDate', 'snils', 'passportSeries', 'passportNumber'];
const LIB_URL = '/page/tokenconfirm.js';
const SIGN_TIMEOUT_MS = 300000;

// ---- state ----
const state = {
  lang: readLang(),
  csrf: '',
  authenticated: false,
  account: null,
  status: null, // {kind, msg} where msg is an I18N key or {ru, en}
  view: 'loading',
  busy: false,
};

const $ = (sel) => document.querySelector(sel);

function readLang() {
  try {
    if (localStorage.getItem('tc-lang') === 'en') return 'en';
  } catch { /* storage unavailable */ }
  return 'ru';
}

const t = (key) => I18N[state.lang][key] ?? I18N.ru[key] ?? key;

// ---- API ----
class ApiError extends Error {
  constructor(code, msg, reason) {
    super(code);
    Object.assign(this, { code, msg, reason }); // msg: {ru, en}
  }
}

// fetch wrapper: JSON in/out, CSRF header on state-changing requests, typed errors.
async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') {
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-CSRF-Token'] = state.csrf;
    if (body !== undefined) opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch {
    throw new ApiError('network', pick('msgNetwork'));
  }
  const data = await res.json().catch(() => null); // 204 and non-JSON bodies → null
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(e.code || 'http-' + res.status, e.message || pick('msgHttp'), e.reason);
  }
  return data;
}

// Both translations of a dictionary key, so errors stay bilingual like the server's.
const pick = (key) => ({ ru: I18N.ru[key], en: I18N.en[key] });

// Store what the server said about the session.
function applySession(data) {
  if (data.csrfToken) state.csrf = data.csrfToken;
  state.authenticated = 'authenticated' in data ? !!data.authenticated : !!data.account;
  if ('account' in data) state.account = data.account || null;
}

async function loadSession() {
  applySession(await api('GET', '/api/v1/session'));
}

// ---- status region and language ----
function setStatus(kind, msg) {
  state.status = msg ? { kind, msg } : null;
  renderStatus();
}

function renderStatus() {
  const el = $('#status');
  const s = state.status;
  el.dataset.kind = s ? s.kind : 'info';
  el.textContent = !s ? '' : typeof s.msg === 'string' ? t(s.msg) : (s.msg[state.lang] || s.msg.ru || s.msg.en || '');
}

function applyLang() {
  document.documentElement.lang = state.lang;
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const sw = $('#lang-switch');
  sw.textContent = t('langSwitch');
  sw.lang = state.lang === 'ru' ? 'en' : 'ru';
  $('#esig-cli').textContent = `tokenconfirm-agent confirm --server ${location.origin}`;
  renderStatus();
  if (state.account) renderAccount();
}

// ---- routing and views ----
const ROUTE_FOCUS = {
  '#/login': '#login-heading',
  '#/register': '#register-heading',
  '#/register-esig': '#esig-reg-heading',
  '#/account': '#account-heading',
};

// Pick the view for the current state and hash; move focus to its heading when it changes.
function route(focus = true) {
  let hash = location.hash;
  if (!(hash in ROUTE_FOCUS)) hash = state.authenticated ? '#/account' : '#/login';
  if (state.authenticated && hash !== '#/account') hash = '#/account';
  if (!state.authenticated && hash === '#/account') hash = '#/login';
  if (location.hash !== hash) history.replaceState(null, '', hash);

  const view = state.authenticated ? 'account' : 'anon';
  for (const v of ['loading', 'anon', 'account']) $('#view-' + v).hidden = v !== view;
  if (view === 'account') renderAccount();
  showEsigForm(hash === '#/register-esig');

  const changed = state.view !== hash;
  state.view = hash;
  if (changed) $('#esig-missing').hidden = true; // belongs to the view it was shown in
  if (focus && changed) $(ROUTE_FOCUS[hash]).focus();
}

function go(hash) {
  if (location.hash !== hash) history.pushState(null, '', hash);
  state.view = null; // force focus move
  route(true);
}

function showEsigForm(show) {
  $('#register-esig-form').hidden = !show;
  $('#register-esig').setAttribute('aria-expanded', String(show));
}

// RFC 3339 instant → local date and time in the portal language (raw text if unparsable).
function fmtInstant(s) {
  const d = new Date(s);
  if (!s || Number.isNaN(d.getTime())) return s || '';
  return new Intl.DateTimeFormat(state.lang === 'ru' ? 'ru-RU' : 'en-GB', { dateStyle: 'long', timeStyle: 'short' }).format(d);
}

const fmtSnils = (s) => (/^\d{11}$/.test(s || '') ? `${s.slice(0, 3)}-${s.slice(3, 6)}-${s.slice(6, 9)} ${s.slice(9)}` : s || '');

function renderAccount() {
  const a = state.account;
  if (!a) return;
  const level = LEVELS.includes(a.level) ? a.level : 'simplified';
  $('#acc-name').textContent = a.name || '';
  $('#acc-login').textContent = a.login || '';
  const badge = $('#level');
  badge.textContent = t('level_' + level);
  badge.dataset.level = level;
  $('#level-hint').textContent = t('hint_' + level);

  const confirmed = level === 'confirmed';
  $('#acc-confirmed-row').hidden = !(confirmed && a.confirmedAt);
  if (a.confirmedAt) {
    const el = $('#acc-confirmed-at');
    el.dateTime = a.confirmedAt;
    el.textContent = fmtInstant(a.confirmedAt);
  }
  const c = a.certificate;
  $('#cert-block').hidden = !(confirmed && c);
  if (c) {
    for (const k of ['subject', 'issuer', 'serial']) $('#cert-' + k).textContent = c[k] || '';
    const na = $('#cert-not-after');
    na.dateTime = c.notAfter || '';
    na.textContent = fmtInstant(c.notAfter);
  }

  $('#profile-section').hidden = confirmed;
  $('#confirm-section').hidden = level !== 'standard';
}

// Prefill the profile form (only when the account changes, not on language switch).
function fillProfile() {
  const p = (state.account && state.account.profile) || {};
  const f = $('#profile-form');
  for (const n of PROFILE) field(f, n).value = (n === 'snils' ? fmtSnils(p.snils) : p[n]) || '';
}

function setAccount(account) {
  state.account = account;
  state.authenticated = !!account;
  fillProfile();
}

// ---- forms ----
// Named controls via namedItem: `form.name` etc. would hit built-in properties.
const field = (form, n) => form.elements.namedItem(n);
const val = (form, n) => field(form, n).value;

function clearInvalid(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

function markInvalid(form, names) {
  let first = null;
  for (const n of names) {
    const el = field(form, n);
    if (el && el.setAttribute) {
      el.setAttribute('aria-invalid', 'true');
      first = first || el;
    }
  }
  if (first) first.focus();
}

// Required-field check with a localized message; returns false when something is missing.
function checkRequired(form, names) {
  const missing = names.filter((n) => !val(form, n).trim());
  if (missing.length) {
    markInvalid(form, missing);
    setStatus('error', 'msgRequired');
    return false;
  }
  return true;
}

// Show a server (or library) error; mark the field named by `reason` when there is one.
function showError(err, form) {
  if (err instanceof ApiError) {
    setStatus('error', err.msg);
    if (form && err.reason) {
      const words = err.reason.split(/[^A-Za-z]+/);
      const name = [...form.elements].map((e) => e.name).find((n) => n && words.includes(n));
      if (name) markInvalid(form, [name]);
    }
    if (['unauthenticated', 'csrf-failed', 'already-authenticated'].includes(err.code)) resync();
    return;
  }
  // Page-library error (TokenconfirmError): {code, messages: {ru, en}}
  if (err && err.code === 'extension-missing') $('#esig-missing').hidden = false;
  const texts = err && (typeof err.message === 'object' ? err.message : err.messages);
  if (texts && typeof texts.ru === 'string') setStatus('error', texts);
  else setStatus('error', 'msgLibError');
  $('#status').dataset.code = (err && err.code) || '';
}

// After a lost session, CSRF failure or a session that is (no longer) anonymous:
// fetch the session again so the next try works and the right view is shown.
async function resync() {
  try {
    await loadSession();
    setAccount(state.authenticated ? state.account : null);
    route(true);
  } catch { /* the status already shows an error */ }
}

// Run an action with every button disabled, so nothing is submitted twice.
async function busy(fn) {
  if (state.busy) return;
  state.busy = true;
  document.body.setAttribute('aria-busy', 'true');
  const prev = document.activeElement;
  const buttons = [...document.querySelectorAll('button:not(#lang-switch)')];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await fn();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    document.body.removeAttribute('aria-busy');
    state.busy = false;
    // Disabling the focused button drops focus; give it back if nothing else took it.
    if ((!document.activeElement || document.activeElement === document.body) && prev && prev.isConnected && !prev.closest('[hidden]')) prev.focus();
  }
}

function onSubmit(id, handler) {
  const form = $(id);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearInvalid(form);
    busy(() => handler(form).catch((err) => showError(err, form)));
  });
}

const credentials = (f) => ({ login: val(f, 'login').trim(), password: val(f, 'password') });

// Login/registration succeeded: new session, CSRF token and account.
function loggedIn(form, data, msg) {
  applySession(data);
  setAccount(data.account);
  form.reset();
  setStatus('success', msg);
  go('#/account');
}

// ---- e-signature via the page library ----
// Resolves to the base64 envelope, or null when the extension is missing (message shown).
async function signChallenge(challenge) {
  const lib = await import(LIB_URL).catch(() => null);
  let st = null;
  if (lib && typeof lib.status === 'function') {
    try {
      st = await lib.status();
    } catch (err) {
      if (err && err.code && err.code !== 'extension-missing') throw err;
    }
  }
  if (!st || !st.extension) {
    $('#esig-missing').hidden = false;
    setStatus('error', 'msgEsigMissing');
    return null;
  }
  setStatus('info', 'msgSignPrompt');
  const r = await lib.confirm(challenge, { lang: state.lang, timeoutMs: SIGN_TIMEOUT_MS });
  return typeof r === 'string' ? r : r && r.envelope;
}

async function esigFlow(purpose) {
  $('#esig-missing').hidden = true;
  setStatus('info', 'msgChallenge');
  const challenge = await api('POST', '/api/v1/challenges', { purpose });
  const envelope = await signChallenge(challenge);
  if (envelope) setStatus('info', 'msgVerifying');
  return envelope;
}

// ---- handlers ----
function bind() {
  $('#lang-switch').addEventListener('click', () => {
    state.lang = state.lang === 'ru' ? 'en' : 'ru';
    try { localStorage.setItem('tc-lang', state.lang); } catch { /* ignore */ }
    applyLang();
  });

  window.addEventListener('hashchange', () => {
    if (location.hash.startsWith('#/') && state.view !== 'loading') route(true);
  });

  onSubmit('#login-form', async (f) => {
    if (!checkRequired(f, ['login', 'password'])) return;
    loggedIn(f, await api('POST', '/api/v1/session', credentials(f)), 'msgLoggedIn');
  });

  onSubmit('#register-form', async (f) => {
    if (!checkRequired(f, ['name', 'login', 'password'])) return;
    const body = { name: val(f, 'name').trim(), ...credentials(f) };
    loggedIn(f, await api('POST', '/api/v1/accounts', body), 'msgRegistered');
  });

  // "Register with an e-signature": make sure the session is anonymous, then ask login + password.
  $('#register-esig').addEventListener('click', () => busy(async () => {
    try {
      await loadSession();
    } catch (err) {
      showError(err);
      return;
    }
    if (state.authenticated) {
      fillProfile();
      go('#/account');
      return;
    }
    const open = $('#register-esig-form').hidden;
    go(open ? '#/register-esig' : '#/login');
    if (open) $('#esig-login').focus();
  }));

  $('#register-esig-cancel').addEventListener('click', () => go('#/login'));

  onSubmit('#register-esig-form', async (f) => {
    if (!checkRequired(f, ['login', 'password'])) return;
    const envelope = await esigFlow('account-registration');
    if (!envelope) return;
    loggedIn(f, await api('POST', '/api/v1/registrations', { envelope, ...credentials(f) }), 'msgRegisteredEsig');
  });

  onSubmit('#profile-form', async (f) => {
    if (!checkRequired(f, PROFILE.filter((n) => n !== 'patronymic'))) return;
    // Trimmed values; SNILS and passport series may be typed with spaces/hyphens: send digits only.
    const body = {};
    for (const n of PROFILE) body[n] = val(f, n).trim();
    body.snils = body.snils.replace(/[\s-]/g, '');
    body.passportSeries = body.passportSeries.replace(/\s/g, '');
    body.patronymic = body.patronymic || null;
    for (const [n, re, key] of [['snils', /^\d{11}$/, 'msgSnils'], ['passportSeries', /^\d{4}$/, 'msgSeries'], ['passportNumber', /^\d{6}$/, 'msgNumber']]) {
      if (!re.test(body[n])) {
        markInvalid(f, [n]);
        setStatus('error', key);
        return;
      }
    }
    const account = await api('PUT', '/api/v1/account/profile', body);
    setAccount(account);
    renderAccount();
    setStatus('success', 'msgProfileSaved');
  });

  $('#confirm-esig').addEventListener('click', () => busy(async () => {
    try {
      const envelope = await esigFlow('account-confirmation');
      if (!envelope) return;
      const data = await api('POST', '/api/v1/confirmations', { envelope });
      setAccount(data.account || { ...state.account, level: data.level });
      renderAccount();
      setStatus('success', 'msgConfirmed');
      $('#account-heading').focus();
    } catch (err) {
      showError(err);
    }
  }));

  $('#logout').addEventListener('click', () => busy(async () => {
    try {
      await api('DELETE', '/api/v1/session');
    } catch (err) {
      // An already-ended session is as good as logged out; anything else is shown.
      if (!(err instanceof ApiError && err.code === 'unauthenticated')) {
        showError(err);
        return;
      }
    }
    setAccount(null);
    setStatus('success', 'msgLoggedOut');
    try {
      await loadSession(); // new anonymous session and CSRF token
    } catch (err) {
      showError(err);
    }
    go('#/login');
  }));
}

// ---- start ----
async function start() {
  bind();
  applyLang();
  try {
    await loadSession();
  } catch (err) {
    showError(err);
    return;
  }
  fillProfile();
  state.view = 'start';
  route(false);
  // Deep link to a form (e.g. #/register): take the user there.
  if (location.hash !== '#/login' && location.hash !== '#/account') $(ROUTE_FOCUS[location.hash]).focus();
}

start();
