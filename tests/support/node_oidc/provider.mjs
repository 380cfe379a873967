// A real OpenID provider for the single sign-on tests: node-oidc-provider (OpenID certified) with its
// development login page (any password is accepted for a known login) and consent page.
//
// Started by tests/support/oidc_provider.py (in tests/support/node_oidc/) as: node provider.mjs CONFIG.json
// CONFIG.json: {"port": 0, "client_id", "client_secret", "jwks": {"keys": [private RSA JWK]}}.
// It prints "listening <port>" once it accepts connections.
//
// Test-only control routes (under /__test__/, never part of a real provider):
//   PUT  /__test__/accounts/<login>   JSON claims of that account (email, email_verified, name, groups...);
//                                     read at every sign-in, so a test can remove a group.
//   POST /__test__/next-id-token      {"id_token": "..."}: the next token response carries this ID token
//                                     instead of the one the provider made (a crafted or tampered token).
import { readFileSync } from 'node:fs';
import { Provider } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map();
let nextIdToken = null;

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

const provider = new Provider(`http://127.0.0.1:${config.port}`, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    // A native client's loopback redirect URIs match on any port (RFC 8252, 7.3): each test's app
    // server listens on a port of its own.
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/oidc/callback/'],
    post_logout_redirect_uris: ['http://127.0.0.1/accounts/login/'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: config.jwks,
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
    groups: ['groups'],
  },
  // Put the account's claims in the ID token itself (as Okta, Entra ID and Keycloak can), not only
  // behind the userinfo endpoint.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    if (!accounts.has(id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...accounts.get(id) };
      },
    };
  },
  ttl: { IdToken: 3600, AccessToken: 3600, Session: 3600, Interaction: 600, Grant: 3600 },
});

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/__test__/accounts/') && ctx.method === 'PUT') {
    accounts.set(decodeURIComponent(ctx.path.slice('/__test__/accounts/'.length)), await readJson(ctx.req));
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/__test__/next-id-token' && ctx.method === 'POST') {
    nextIdToken = (await readJson(ctx.req)).id_token;
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && nextIdToken && ctx.status === 200) {
    const body = typeof ctx.body === 'string' ? JSON.parse(ctx.body) : { ...ctx.body };
    body.id_token = nextIdToken;
    nextIdToken = null;
    ctx.body = body;
  }
});

// The test run holds this process's stdin open: when the run ends, however it ends, so does the provider.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
