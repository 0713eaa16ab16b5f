// node-oidc-provider (panva, OpenID Certified) on loopback, for the sign-in tests: its own login
// and consent forms (devInteractions), two people in two groups, the groups and e-mail in the ID
// token as Keycloak, Dex and Entra ID put them there.
// Usage: node oidc-provider.mjs '{"port":P,"client_id":"...","client_secret":"...","redirect_uri":"..."}'
//   with "foreign_jwks": true, a hostile provider: it signs ID tokens with one key and publishes
//   another under the same kid (no real provider does; a stolen signing key's holder would).
// Prints {"ready":true,"issuer":...} when it listens; stops when standard input closes.
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';

const options = JSON.parse(process.argv[2]);
const people = {
  alice: { sub: 'alice', email: 'alice@example.org', email_verified: true, groups: ['ops'] },
  bob: { sub: 'bob', email: 'bob@example.org', email_verified: true, groups: ['dev'] },
};
const issuer = `http://127.0.0.1:${options.port}`;
const signingKey = (kid) => ({
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid, use: 'sig', alg: 'RS256',
});
const signing = signingKey('k1');
const published = options.foreign_jwks ? signingKey('k1') : signing;
const publicPart = ({ kty, n, e, kid, use, alg }) => ({ kty, n, e, kid, use, alg });
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
  jwks: { keys: [signing] },
});
if (options.foreign_jwks) {
  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') {
      ctx.type = 'application/jwk-set+json';
      ctx.body = JSON.stringify({ keys: [publicPart(published)] });
      return;
    }
    await next();
  });
}
// The ID token's clock is the provider's: the tests move it to check the proxy's skew rule.
const server = provider.listen(options.port, '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, issuer }));
});
process.stdin.resume();
process.stdin.on('end', () => { server.close(); process.exit(0); });
