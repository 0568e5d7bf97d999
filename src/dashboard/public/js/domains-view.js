import { ApiError } from './api.js';
import { h } from './dom.js';
import { shortDate } from './format.js';
import { showRows } from './tab.js';

const refreshMs = 5000;
const knownStatuses = new Set(['pending', 'issued', 'failed']);

/**
 * What a user should read about a domain: the issuance error, else a failed renewal's. Each ends
 * with when Gasper tries again (the certificates service writes it).
 */
export function domainProblem(domain) {
  if (domain.lastError) return domain.lastError;
  if (domain.renewalError) return `Renewal failed; the current certificate still serves. ${domain.renewalError}`;
  const proof = domain.verification;
  if (domain.status === 'pending' && proof && !proof.verifiedAt)
    return `Waiting for the ownership proof: create the TXT record ${proof.name} with the value ${proof.value}.`;
  if (domain.status === 'pending') return 'Waiting for the certificate: the name must resolve to this platform.';
  return '';
}

/**
 * What the proxy does with plain HTTP and HSTS, in words, after a change. It redirects only the
 * names a certificate covers (`covered`), never to a handshake that would fail.
 */
function edgeSummary({ https, hsts }, covered) {
  const plain =
    https !== 'redirect'
      ? 'plain HTTP is served as it is'
      : covered.length
        ? `plain HTTP to ${covered.join(', ')} is redirected to HTTPS`
        : 'the redirect is not in effect yet: no name of the app has a certificate (the platform certificate, GASPER_TLS_CERT, or an issued custom domain), so plain HTTP is still served';
  return `HTTPS settings saved: ${plain}; HSTS ${hsts ? 'on' : 'off'}.`;
}

/** The app's names a certificate covers: its platform name when announced over https, and its issued domains. */
function namesWithCertificate(appDoc, domains) {
  const url =
    typeof appDoc?.url === 'string' && appDoc.url.startsWith('https://') ? [new URL(appDoc.url).hostname] : [];
  return [...url, ...domains.filter((d) => d.status === 'issued').map((d) => String(d.domain))];
}

/**
 * An app's custom domains: the list (status, certificate, the problem in words), an add form
 * and a remove button per domain, and the app's HTTPS settings (redirect, HSTS). Shown for one
 * app at a time; refreshed while open, since the certificates service changes the status on its
 * own.
 */
export function createDomainsView({
  section,
  title,
  list,
  empty,
  form,
  input,
  inputError,
  message,
  closeButton,
  edge,
}) {
  let api;
  let app;
  let timer;
  /** The domains last listed, for what the HTTPS settings apply to. */
  let listed = [];

  function say(text, problem = false) {
    message.textContent = text;
    message.classList.toggle('problem', problem);
  }

  function row(domain) {
    const name = String(domain.domain);
    const status = String(domain.status ?? 'unknown');
    const certificate = domain.notAfter ? `${domain.issuer ?? ''}, until ${shortDate(domain.notAfter)}` : '—';
    return h(
      'tr',
      { 'data-domain': name },
      h('th', { scope: 'row', 'data-label': 'Domain' }, name),
      h(
        'td',
        { 'data-label': 'Status' },
        h('span', { class: `badge domain-${knownStatuses.has(status) ? status : 'unknown'}` }, status),
      ),
      h('td', { 'data-label': 'Certificate' }, certificate),
      h('td', { 'data-label': 'Problem', class: 'domain-problem' }, domainProblem(domain)),
      h(
        'td',
        { 'data-label': 'Actions', class: 'actions' },
        h(
          'button',
          { type: 'button', class: 'danger', 'aria-label': `Remove ${name}`, onclick: () => remove(name) },
          'Remove',
        ),
      ),
    );
  }

  async function refresh() {
    clearTimeout(timer);
    const [current, name] = [api, app];
    if (!current || !name) return;
    try {
      const { domains } = await current.listDomains(name);
      if (current !== api || name !== app) return;
      listed = domains;
      showRows(list, empty, domains.map(row));
    } catch (err) {
      if (current !== api || name !== app) return;
      say(`Could not list the domains of ${name}: ${err.message}`, true);
    }
    if (current === api && name === app && !section.hidden) timer = setTimeout(refresh, refreshMs);
  }

  async function add(event) {
    event.preventDefault();
    inputError.textContent = '';
    input.removeAttribute('aria-invalid');
    const domain = input.value.trim();
    if (!domain) {
      inputError.textContent = 'Enter a domain, e.g. shop.example.com.';
      input.setAttribute('aria-invalid', 'true');
      return input.focus();
    }
    try {
      const body = await api.addDomain(app, domain);
      input.value = '';
      const records = (body.dns?.records ?? []).map((r) => `${r.type} ${r.value}`).join(', ');
      const cname = body.dns?.cname ? ` (or CNAME ${body.dns.cname.value})` : '';
      const proof = body.domain.verification;
      const first = proof
        ? ` First prove it is yours: TXT record ${proof.name} = ${proof.value} (until then it is not routed).`
        : '';
      const certificate =
        body.certificates === 'off'
          ? ' Automatic certificates are off on this platform (GASPER_ACME): it is served over HTTP.'
          : ' The certificate is issued automatically once it resolves.';
      say(
        `${body.domain.domain} added.${first} Point it here with DNS: ${records || "A/AAAA records to the platform's addresses"}${cname}.${certificate}`,
      );
      await refresh();
    } catch (err) {
      if (err instanceof ApiError && err.fields?.domain) {
        inputError.textContent = err.fields.domain;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      } else say(`Could not add ${domain}: ${err.message}`, true);
    }
  }

  async function remove(domain) {
    if (!window.confirm(`Remove ${domain} from ${app}? Its route and certificate are deleted.`)) return;
    try {
      await api.removeDomain(app, domain);
      say(`${domain} removed.`);
      await refresh();
    } catch (err) {
      say(`Could not remove ${domain}: ${err.message}`, true);
    }
  }

  /** Shows the app's current HTTPS settings in the form. */
  async function loadEdge() {
    const [current, name] = [api, app];
    try {
      const body = await current.getApp(name);
      if (current !== api || name !== app) return;
      edge.https.value = body.app.https ?? 'allow';
      edge.hsts.checked = body.app.hsts === true;
    } catch (err) {
      if (current === api && name === app) say(`Could not read the HTTPS settings of ${name}: ${err.message}`, true);
    }
  }

  async function saveEdge(event) {
    event.preventDefault();
    const settings = { https: edge.https.value, hsts: edge.hsts.checked };
    try {
      const body = await api.updateApp(app, settings);
      say(edgeSummary(settings, namesWithCertificate(body.app, listed)));
    } catch (err) {
      say(`Could not save the HTTPS settings: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', add);
  edge.form.addEventListener('submit', saveEdge);
  closeButton.addEventListener('click', () => reset());

  function reset() {
    clearTimeout(timer);
    api = undefined;
    app = undefined;
    listed = [];
    section.hidden = true;
    list.replaceChildren();
    form.reset();
    edge.form.reset();
    inputError.textContent = '';
    say('');
  }

  return {
    /** Shows the domains of `name`. */
    show(client, name) {
      reset();
      api = client;
      app = name;
      title.textContent = `Domains of ${name}`;
      section.hidden = false;
      return Promise.all([refresh(), loadEdge()]);
    },
    reset,
  };
}
