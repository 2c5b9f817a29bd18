// The real OpenID provider the OAuth tests sign in against: node-oidc-provider (OpenID Certified),
// over HTTPS on 127.0.0.1 with the test TLS certificate. Started by tests/transport/oauth_servers.py,
// which copies this file next to the node_modules that scripts/install_test_node.sh installed.
//
// Configured like the identity platforms smimehelper talks to: authorization code flow with PKCE
// (S256 required), refresh tokens (offline_access, rotated for public clients as Microsoft does),
// token introspection (Dovecot's passdb oauth2 asks it whether an access token is valid) and
// revocation. Clients: the public test client (no secret, loopback redirect, RFC 8252) and the
// confidential client Dovecot introspects with. One test user, with a real login form and a
// consent page (our own pages, not the library's development ones).
//
// Environment: OIDC_CERT, OIDC_KEY (PEM files), OIDC_CLIENT_ID, OIDC_USER, OIDC_PASSWORD,
// OIDC_INTROSPECT_SECRET, OIDC_ACCESS_TTL (seconds), OIDC_SCOPE (the mail scope).
// Prints one JSON line {"issuer": ...} on stdout once it listens.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import querystring from 'node:querystring';

import Provider from 'oidc-provider';

const env = process.env;
const CLIENT_ID = env.OIDC_CLIENT_ID || 'smimehelper-test';
const USER = env.OIDC_USER || 'dentist@example.org';
const PASSWORD = env.OIDC_PASSWORD || 'correct horse';
const MAIL_SCOPE = env.OIDC_SCOPE || 'mail';
const ACCESS_TTL = Number(env.OIDC_ACCESS_TTL || 600);

process.stderr.write('provider.mjs: modules loaded\n');  // each step, to find a start that stalls
const signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
process.stderr.write('provider.mjs: signing key made\n');

function configuration() {
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: `openid offline_access ${MAIL_SCOPE}`,
      },
      {
        client_id: 'dovecot',
        client_secret: env.OIDC_INTROSPECT_SECRET || 'dovecot-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [],
        grant_types: [],
        response_types: [],
      },
    ],
    scopes: ['openid', 'offline_access', MAIL_SCOPE],
    claims: { openid: ['sub'], email: ['email'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: ACCESS_TTL,
      AuthorizationCode: 120,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 14 * 24 * 3600,
      Session: 3600,
    },
    jwks: { keys: [{ ...signingKey, kid: 'test-signing', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    findAccount: async (ctx, id) => (id === USER ? { accountId: id, claims: async () => ({ sub: id, email: id }) } : undefined),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<p id="error">${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
    },
  };
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginForm(uid, message) {
  return page('Sign in to the test provider', `
    ${message ? `<p id="login-error">${escape(message)}</p>` : ''}
    <form method="post" action="/interaction/${uid}/login" id="login-form">
      <label>E-mail <input id="username" name="username" autocomplete="username" autofocus></label>
      <label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
      <button id="sign-in" type="submit">Sign in</button>
    </form>
    <form method="post" action="/interaction/${uid}/abort"><button id="cancel" type="submit">Cancel</button></form>`);
}

function consentForm(uid, clientId, scopes) {
  return page('Allow access?', `
    <p id="consent-text">${escape(clientId)} asks to send and read mail as you (${escape(scopes.join(' '))}).</p>
    <form method="post" action="/interaction/${uid}/confirm"><button id="allow" type="submit">Allow</button></form>
    <form method="post" action="/interaction/${uid}/abort"><button id="deny" type="submit">Deny</button></form>`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(querystring.parse(body)));
    req.on('error', reject);
  });
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Wrong interaction', ''));
  const { prompt, params, session } = details;
  if (req.method === 'GET') {
    if (prompt.name === 'login') return send(res, 200, loginForm(uid));
    return send(res, 200, consentForm(uid, params.client_id, String(params.scope || '').split(' ')));
  }
  if (action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
  }
  if (action === 'login') {
    const form = await readForm(req);
    if (form.username !== USER || form.password !== PASSWORD) return send(res, 200, loginForm(uid, 'Wrong e-mail or password.'));
    return provider.interactionFinished(req, res, { login: { accountId: USER } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 404, page('Not found', ''));
}

let provider;
let handler;
const server = https.createServer(
  { cert: fs.readFileSync(env.OIDC_CERT), key: fs.readFileSync(env.OIDC_KEY) },
  async (req, res) => {
    const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(req.url.split('?')[0]);
    if (!match) return handler(req, res);
    try {
      await interaction(provider, req, res, match[1], match[2]);
    } catch (err) {
      if (!res.headersSent) send(res, 400, page('Sign-in error', `<p id="error">${escape(err.message)}</p>`));
    }
  },
);

process.stderr.write('provider.mjs: starting the server\n');
server.listen(0, '127.0.0.1', () => {
  process.stderr.write('provider.mjs: listening on a port\n');
  const issuer = `https://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, configuration());
  handler = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
  process.stderr.write('provider.mjs: ready\n');
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
