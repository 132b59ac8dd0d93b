// A real OpenID Connect provider (npm oidc-provider) for gridmap's single sign-on tests.
//
//   node tests/oidc_provider/provider.mjs CONFIG.json
//
// CONFIG.json: {"port": 1-65535, "host": "127.0.0.1" (default) or "localhost",
//               "clients": [{client_id, client_secret, redirect_uris}],
//               "accounts": {"<login>": {"email": "...", "email_verified": true}}}
// Listens on 127.0.0.1:<port> with issuer http://<host>:<port>. Sign-in uses the package's
// own development interactions (a login form, then a consent form); the password is not
// checked, the login must be one of "accounts". Keys are made fresh at every start. No network
// beyond loopback; nothing is written to disk.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const port = Number(config.port);
// the issuer's host: 127.0.0.1, or "localhost" for a provider on another site than gridmap
const issuer = `http://${config.host || '127.0.0.1'}:${port}`;
const accounts = config.accounts || {};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `k${Date.now()}`, use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
  })),
  jwks: { keys: [signingKey] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600,
    Grant: 600,
  },
  cookies: { keys: ['gridmap-test-provider-cookie-key'] },
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account) {
      return undefined;
    }
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: account.email_verified !== false,
          name: account.name || id };
      },
    };
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.on('server_error', (_ctx, err) => { console.error('provider error:', err); });
// a login that is no account is refused at the login form, as a real provider would
const { interactionFinished } = provider;
provider.interactionFinished = async function finished(req, res, result, options) {
  if (result && result.login && !accounts[result.login.accountId]) {
    throw new errors.AccessDenied('unknown login');
  }
  return interactionFinished.call(this, req, res, result, options);
};

provider.listen(port, '127.0.0.1');
