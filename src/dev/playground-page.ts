/**
 * The dev playground page: one HTML document with its style and script inline
 * and nothing loaded from anywhere else. The content security policy allows the
 * inline style and script by their SHA-256 hashes (see playground.ts), so
 * the page must not use inline event handlers or `style` attributes.
 */

export const PLAYGROUND_STYLE = String.raw`
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6474; --bg: #f6f7f9; --card: #fff; --line: #d9dde5; --accent: #005fff; --ok: #0a7a3b; --bad: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #9aa3b2; --bg: #14171c; --card: #1c2027; --line: #2e3440; --accent: #5b9dff; --ok: #4ccf85; --bad: #ff7a6e; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 16px 24px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { margin: 0; font-size: 18px; }
header p { margin: 4px 0 0; color: var(--muted); }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; display: grid; gap: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; }
section h2 { margin: 0 0 12px; font-size: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
label { display: grid; gap: 4px; font-size: 13px; color: var(--muted); margin-top: 8px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
input, textarea { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 7px 9px; width: 100%; }
textarea { resize: vertical; min-height: 64px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-top: 12px; }
button { font: inherit; border: 0; border-radius: 6px; padding: 8px 14px; background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: transparent; color: var(--accent); border: 1px solid var(--line); }
button:disabled { opacity: .6; cursor: progress; }
.status { font-size: 13px; min-height: 1.4em; }
.status.ok { color: var(--ok); }
.status.error { color: var(--bad); }
.tokens { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
pre { margin: 0; padding: 10px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; overflow: auto; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; }
h3 { margin: 12px 0 6px; font-size: 13px; color: var(--muted); font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
td { padding: 3px 6px 3px 0; vertical-align: top; }
td:first-child { color: var(--muted); white-space: nowrap; }
.expired { color: var(--bad); }
.live { color: var(--ok); }
.empty { color: var(--muted); font-size: 13px; }
.hint { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
`;

export const PLAYGROUND_SCRIPT = String.raw`
(function () {
  'use strict';
  var byId = function (id) { return document.getElementById(id); };
  var baseUrl = byId('base-url');
  var userId = byId('user-id');
  var roleClaim = byId('role-claim');
  var roleValue = byId('role-value');
  var orgId = byId('org-id');
  var extraClaims = byId('extra-claims');
  var sessionToken = byId('session-token');
  var getSession = byId('get-session');
  var exchange = byId('exchange');
  var statusLine = byId('status');
  var streamResponse = byId('stream-response');
  var curl = byId('curl');
  var lastStreamToken = '';

  baseUrl.value = window.location.origin;

  function base() {
    var value = baseUrl.value.trim() || window.location.origin;
    return value.replace(/\/+$/, '');
  }

  function setStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.className = 'status' + (kind ? ' ' + kind : '');
  }

  function decodeSegment(segment) {
    var text = segment.replace(/-/g, '+').replace(/_/g, '/');
    while (text.length % 4 !== 0) text += '=';
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  function decodeJwt(token) {
    var parts = token.split('.');
    if (parts.length !== 3) throw new Error('not a JWT: expected 3 dot-separated segments, got ' + parts.length);
    return { header: decodeSegment(parts[0]), claims: decodeSegment(parts[1]), signed: parts[2] !== '' && parts[2] !== 'devtoken' };
  }

  /** Sets a.b.c = value, creating objects on the way. */
  function setPath(target, path, value) {
    var keys = path.split('.');
    var current = target;
    for (var i = 0; i < keys.length - 1; i += 1) {
      var key = keys[i];
      if (current[key] === null || typeof current[key] !== 'object' || Array.isArray(current[key])) current[key] = {};
      current = current[key];
    }
    current[keys[keys.length - 1]] = value;
  }

  function buildClaims() {
    var text = extraClaims.value.trim();
    var claims = {};
    if (text !== '') {
      claims = JSON.parse(text);
      if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new Error('extra claims must be a JSON object');
    }
    var claimName = roleClaim.value.trim();
    if (claimName !== '' && roleValue.value.trim() !== '') setPath(claims, claimName, roleValue.value.trim());
    if (orgId.value.trim() !== '') claims.org_id = orgId.value.trim();
    return claims;
  }

  function shellQuote(text) {
    return "'" + text.replace(/'/g, "'\\''") + "'";
  }

  function renderCurl() {
    var lines = [];
    var claims;
    try {
      claims = buildClaims();
    } catch (error) {
      claims = null;
    }
    var body = { user_id: userId.value.trim() };
    if (claims && Object.keys(claims).length > 0) body.claims = claims;
    lines.push('# 1. a dev session token (dev mode only)');
    lines.push('TOKEN=$(curl -s -X POST ' + shellQuote(base() + '/dev/token') + " \\\n  -H 'content-type: application/json' \\\n  -d " + shellQuote(JSON.stringify(body)) + ' \\\n  | node -pe ' + shellQuote('JSON.parse(require("fs").readFileSync(0)).token') + ')');
    lines.push('');
    lines.push('# 2. exchange it for a Stream token');
    lines.push('curl -s -X POST ' + shellQuote(base() + '/stream/token') + ' \\\n  -H "Authorization: Bearer $TOKEN"');
    var current = sessionToken.value.trim();
    if (current !== '') {
      lines.push('');
      lines.push('# the same with the session token shown above');
      lines.push('curl -s -X POST ' + shellQuote(base() + '/stream/token') + ' \\\n  -H ' + shellQuote('Authorization: Bearer ' + current));
    }
    curl.textContent = lines.join('\n');
  }

  function formatDuration(seconds) {
    var s = Math.abs(Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = s % 60;
    return (h > 0 ? h + 'h ' : '') + (h > 0 || m > 0 ? m + 'm ' : '') + rest + 's';
  }

  function countdownText(exp) {
    var left = exp - Date.now() / 1000;
    return left > 0 ? 'expires in ' + formatDuration(left) : 'expired ' + formatDuration(left) + ' ago';
  }

  function tick() {
    var nodes = document.querySelectorAll('[data-exp]');
    for (var i = 0; i < nodes.length; i += 1) {
      var exp = Number(nodes[i].getAttribute('data-exp'));
      nodes[i].textContent = countdownText(exp);
      nodes[i].className = exp > Date.now() / 1000 ? 'live' : 'expired';
    }
  }

  function append(parent, tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    parent.appendChild(node);
    return node;
  }

  function renderToken(prefix, token) {
    var box = byId(prefix + '-decoded');
    box.replaceChildren();
    if (!token) {
      append(box, 'p', 'No token yet.', 'empty');
      return;
    }
    var decoded;
    try {
      decoded = decodeJwt(token);
    } catch (error) {
      append(box, 'p', 'Cannot decode: ' + error.message, 'status error');
      return;
    }
    append(box, 'h3', 'Header');
    append(box, 'pre', JSON.stringify(decoded.header, null, 2)).id = prefix + '-header';
    append(box, 'h3', 'Claims');
    append(box, 'pre', JSON.stringify(decoded.claims, null, 2)).id = prefix + '-claims';
    var times = ['iat', 'nbf', 'exp'].filter(function (name) { return typeof decoded.claims[name] === 'number'; });
    append(box, 'h3', 'Times');
    if (times.length === 0) {
      append(box, 'p', 'No iat, nbf or exp claim: this token never expires.', 'empty');
    } else {
      var table = append(box, 'table');
      times.forEach(function (name) {
        var value = decoded.claims[name];
        var row = append(table, 'tr');
        append(row, 'td', name);
        var cell = append(row, 'td');
        var date = new Date(value * 1000);
        append(cell, 'div', date.toISOString() + '  (' + date.toLocaleString() + ')');
        if (name === 'exp') {
          var countdown = append(cell, 'div');
          countdown.id = prefix + '-countdown';
          countdown.setAttribute('data-exp', String(value));
        }
      });
    }
    append(box, 'p', decoded.signed ? 'Signature not checked here: the service verifies it.' : 'Unsigned development token.', 'hint');
    tick();
  }

  async function readBody(response) {
    var text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      return text;
    }
  }

  function describeFailure(response, body) {
    if (body && typeof body === 'object' && typeof body.code === 'string') {
      return response.status + ' ' + body.code + ': ' + (body.detail || body.title || '') + (body.request_id ? ' (request ' + body.request_id + ')' : '');
    }
    return 'HTTP ' + response.status;
  }

  function networkFailure(url, error) {
    var sameOrigin = url.indexOf(window.location.origin + '/') === 0;
    return 'Request to ' + url + ' failed: ' + error.message + (sameOrigin ? '' : '. For another origin, add ' + window.location.origin + ' to that service\'s CORS_ORIGINS.');
  }

  async function run(button, work) {
    button.disabled = true;
    try {
      await work();
    } finally {
      button.disabled = false;
    }
  }

  getSession.addEventListener('click', function () {
    run(getSession, async function () {
      var claims;
      try {
        claims = buildClaims();
      } catch (error) {
        setStatus('Claims: ' + error.message, 'error');
        return;
      }
      var url = base() + '/dev/token';
      var body = { user_id: userId.value.trim() };
      if (Object.keys(claims).length > 0) body.claims = claims;
      setStatus('Getting a dev session token from ' + url + ' ...');
      var response;
      try {
        response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      } catch (error) {
        setStatus(networkFailure(url, error), 'error');
        return;
      }
      var answer = await readBody(response);
      if (!response.ok) {
        setStatus('Session token refused: ' + describeFailure(response, answer), 'error');
        return;
      }
      sessionToken.value = answer.token;
      renderToken('session', answer.token);
      renderCurl();
      setStatus('Got a dev session token for ' + body.user_id + '. Now exchange it.', 'ok');
    });
  });

  exchange.addEventListener('click', function () {
    run(exchange, async function () {
      var token = sessionToken.value.trim();
      if (token === '') {
        setStatus('No session token: get one first, or paste one.', 'error');
        return;
      }
      var url = base() + '/stream/token';
      setStatus('Exchanging at ' + url + ' ...');
      var response;
      try {
        response = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer ' + token } });
      } catch (error) {
        setStatus(networkFailure(url, error), 'error');
        return;
      }
      var answer = await readBody(response);
      streamResponse.textContent = typeof answer === 'string' ? answer : JSON.stringify(answer, null, 2);
      if (!response.ok) {
        lastStreamToken = '';
        renderToken('stream', '');
        setStatus('Exchange refused: ' + describeFailure(response, answer), 'error');
        return;
      }
      lastStreamToken = answer.token;
      renderToken('stream', answer.token);
      setStatus('Stream token for ' + answer.user_id + ', API key ' + answer.api_key + ', valid ' + formatDuration(answer.expires_in) + '.', 'ok');
    });
  });

  byId('copy-curl').addEventListener('click', function () {
    if (navigator.clipboard) navigator.clipboard.writeText(curl.textContent || '').then(function () { setStatus('curl commands copied.', 'ok'); }, function () { setStatus('Copy failed; select the text instead.', 'error'); });
  });
  byId('copy-stream').addEventListener('click', function () {
    if (navigator.clipboard && lastStreamToken) navigator.clipboard.writeText(lastStreamToken).then(function () { setStatus('Stream token copied.', 'ok'); }, function () { setStatus('Copy failed; select the text instead.', 'error'); });
  });

  [baseUrl, userId, roleClaim, roleValue, orgId, extraClaims].forEach(function (input) { input.addEventListener('input', renderCurl); });
  sessionToken.addEventListener('input', function () {
    renderToken('session', sessionToken.value.trim());
    renderCurl();
  });

  renderToken('session', '');
  renderToken('stream', '');
  renderCurl();
  setInterval(tick, 1000);
  document.body.setAttribute('data-ready', 'true');
})();
`;

/** The page; `style` and `script` are placed verbatim so their hashes match. */
export function renderPlaygroundPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>stream-token-service · dev playground</title>
<style>${PLAYGROUND_STYLE}</style>
</head>
<body>
<header>
  <h1>stream-token-service · dev playground</h1>
  <p>Dev mode only. Sign a dev session token, exchange it for a Stream Chat token, and look inside both.</p>
</header>
<main>
  <section>
    <h2>1. Service</h2>
    <label><span>Service base URL (another origin needs this page's origin in its <code>CORS_ORIGINS</code>)</span>
      <input id="base-url" type="url" autocomplete="off" spellcheck="false"></label>
  </section>
  <section>
    <h2>2. Session token</h2>
    <div class="grid">
      <label><span>User id (<code>sub</code>)</span><input id="user-id" value="alice" autocomplete="off" spellcheck="false"></label>
      <label><span>Role claim</span><input id="role-claim" value="org_role" autocomplete="off" spellcheck="false"></label>
      <label><span>Role</span><input id="role-value" placeholder="org:admin" autocomplete="off" spellcheck="false"></label>
      <label><span>Organization (<code>org_id</code>)</span><input id="org-id" placeholder="org_123" autocomplete="off" spellcheck="false"></label>
    </div>
    <label><span>More claims (JSON object, merged in; a role claim with dots, e.g. <code>public_metadata.role</code>, nests)</span>
      <textarea id="extra-claims" spellcheck="false">{}</textarea></label>
    <div class="actions">
      <button id="get-session" type="button">Get dev session token</button>
    </div>
    <label><span>Session token (or paste one from your identity provider)</span>
      <textarea id="session-token" rows="4" spellcheck="false"></textarea></label>
  </section>
  <section>
    <h2>3. Exchange</h2>
    <div class="actions">
      <button id="exchange" type="button">Exchange for Stream token</button>
      <button id="copy-stream" class="secondary" type="button">Copy Stream token</button>
    </div>
    <p id="status" class="status" role="status" aria-live="polite"></p>
    <h3>Response</h3>
    <pre id="stream-response">Nothing yet.</pre>
  </section>
  <section>
    <h2>Decoded</h2>
    <div class="tokens">
      <div><h3>Session token</h3><div id="session-decoded"></div></div>
      <div><h3>Stream token</h3><div id="stream-decoded"></div></div>
    </div>
  </section>
  <section>
    <h2>curl</h2>
    <pre id="curl"></pre>
    <div class="actions"><button id="copy-curl" class="secondary" type="button">Copy</button></div>
  </section>
</main>
<script>${PLAYGROUND_SCRIPT}</script>
</body>
</html>
`;
}
