(function () {
  'use strict';
  var byId = function (id) {
    return document.getElementById(id);
  };
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
    } catch {
      claims = null;
    }
    var body = { user_id: userId.value.trim() };
    if (claims && Object.keys(claims).length > 0) body.claims = claims;
    lines.push('# 1. a dev session token (dev mode only)');
    lines.push(
      'TOKEN=$(curl -s -X POST ' +
        shellQuote(base() + '/dev/token') +
        " \\\n  -H 'content-type: application/json' \\\n  -d " +
        shellQuote(JSON.stringify(body)) +
        ' \\\n  | node -pe ' +
        shellQuote('JSON.parse(require("fs").readFileSync(0)).token') +
        ')',
    );
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
    var times = ['iat', 'nbf', 'exp'].filter(function (name) {
      return typeof decoded.claims[name] === 'number';
    });
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
    } catch {
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
    return (
      'Request to ' +
      url +
      ' failed: ' +
      error.message +
      (sameOrigin ? '' : '. For another origin, add ' + window.location.origin + " to that service's CORS_ORIGINS.")
    );
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
    if (navigator.clipboard)
      navigator.clipboard.writeText(curl.textContent || '').then(
        function () {
          setStatus('curl commands copied.', 'ok');
        },
        function () {
          setStatus('Copy failed; select the text instead.', 'error');
        },
      );
  });
  byId('copy-stream').addEventListener('click', function () {
    if (navigator.clipboard && lastStreamToken)
      navigator.clipboard.writeText(lastStreamToken).then(
        function () {
          setStatus('Stream token copied.', 'ok');
        },
        function () {
          setStatus('Copy failed; select the text instead.', 'error');
        },
      );
  });

  [baseUrl, userId, roleClaim, roleValue, orgId, extraClaims].forEach(function (input) {
    input.addEventListener('input', renderCurl);
  });
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
