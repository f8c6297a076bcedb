#!/usr/bin/env python3
"""A machine client's access token for the local stack, as Cognito's client-credentials grant
issues one (https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html):
`sub` and `client_id` are the client, `scope` its granted custom scopes, and there is no user
name and no group.

moto has no token endpoint (`/oauth2/token`), so this signs the token with the key moto signs
its own tokens with (the one its JWKS serves for every pool), under moto's issuer for the pool:
the authorizer verifies it against moto's JWKS over the wire, as any local token. Run with the
.venv's Python (it imports moto's installed copy of the key and joserfc, moto's JWT library).

    scripts/machine-token.py POOL_ID CLIENT_ID SCOPE...
"""
import sys
import time
import uuid

from joserfc import jwk, jwt
from moto.utilities.utils import load_resource


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: machine-token.py POOL_ID CLIENT_ID SCOPE...")
    pool_id, client_id, scopes = argv[0], argv[1], argv[2:]
    region = pool_id.split("_", 1)[0]
    now = int(time.time())
    claims = {
        "iss": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "version": 2,
    }
    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    # moto's tokens carry this key id; its JWKS serves the key under it.
    print(jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key))


if __name__ == "__main__":
    main(sys.argv[1:])
