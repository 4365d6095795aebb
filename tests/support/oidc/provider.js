// A real OpenID Connect provider for Schedo's OIDC sign-in tests (tests/e2e/test_oidc.py):
// panva's certified oidc-provider, on a loopback port, with one confidential client.
//
//   node provider.js PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI[,REDIRECT_URI...]
//
// (or OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI). Its development
// sign-in pages accept any login: the login is the account id and, when it holds an "@", the
// account's email. A login starting with "unverified" has email_verified false; "noemail"
// has no email claim. Prints "ready ISSUER" once it listens.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = [
  process.argv[2] ?? process.env.OIDC_PORT,
  process.argv[3] ?? process.env.OIDC_CLIENT_ID,
  process.argv[4] ?? process.env.OIDC_CLIENT_SECRET,
  process.argv[5] ?? process.env.OIDC_REDIRECT_URI,
];
if (!port || !clientId || !clientSecret || !redirectUri) {
  console.error('usage: node provider.js PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI');
  process.exit(2);
}
// OIDC_ISSUER: another loopback name (http://localhost:PORT) makes the provider another site
const issuer = process.env.OIDC_ISSUER ?? `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUri.split(','),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // the standard claims the scopes grant go into the ID token too (as most providers do)
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, name: `Test ${id}` };
        if (id.includes('@') && !id.startsWith('noemail')) {
          claims.email = id;
          claims.email_verified = !id.startsWith('unverified');
        }
        return claims;
      },
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
