// node-oidc-provider (panva, OpenID Certified) on loopback, for the sign-in tests: its own login
// and consent forms (devInteractions), two people in two groups, the groups and e-mail in the ID
// token as Keycloak, Dex and Entra ID put them there.
// Usage: node oidc-provider.mjs '{"port":P,"client_id":"...","client_secret":"...","redirect_uri":"..."}'
// Prints {"ready":true,"issuer":...} when it listens; stops when standard input closes.
import Provider from 'oidc-provider';

const options = JSON.parse(process.argv[2]);
const people = {
  alice: { sub: 'alice', email: 'alice@example.org', email_verified: true, groups: ['ops'] },
  bob: { sub: 'bob', email: 'bob@example.org', email_verified: true, groups: ['dev'] },
};
const issuer = `http://127.0.0.1:${options.port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: options.client_id,
    client_secret: options.client_secret,
    redirect_uris: [options.redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => people[id] && { accountId: id, claims: async () => people[id] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['a key for tests only'] },
  ttl: { IdToken: options.id_token_ttl || 3600 },
});
// The ID token's clock is the provider's: the tests move it to check the proxy's skew rule.
const server = provider.listen(options.port, '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, issuer }));
});
process.stdin.resume();
process.stdin.on('end', () => { server.close(); process.exit(0); });
