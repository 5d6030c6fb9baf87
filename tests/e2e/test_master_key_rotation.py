"""Issue 16: the master key rotates and every secret is sealed again while the server serves.
`tessera master-key rotate` writes a new key and keeps the old one in master.key.previous; the
server restarted with that key ring opens what the old key sealed (the root access key, the
pools' signing keys, client secrets, SRP verifiers); `POST /admin/master-key/reseal`
(SigV4-signed) seals it all again under the new key, and a second call finds nothing left; then,
the previous key deleted, everything still works with the new key alone: admin calls signed with
the root key, a client secret's SECRET_HASH, pycognito's SRP, outstanding tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac

import botocore.auth
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pycognito import Cognito

from helpers import HTTP_TIMEOUT, PASSWORD, REGION, App, run_tessera, unique

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def reseal(server, signed: bool = True) -> requests.Response:
    url = f"{server.url}/admin/master-key/reseal"
    headers = {}
    if signed:
        akid, secret = server.root_credentials()
        req = AWSRequest(method="POST", url=url, data=b"", headers={})
        botocore.auth.SigV4Auth(Credentials(akid, secret), "cognito-idp", REGION).add_auth(req)
        headers = dict(req.headers.items())
    return requests.post(url, data=b"", headers=headers, timeout=HTTP_TIMEOUT)


def secret_hash(username: str, client_id: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def works(server, app: App, secret_client: dict, name: str, tokens: dict) -> None:
    """Everything a rotation must not break, checked against `server`."""
    idp = server.client()
    # The root access key (sealed) signs admin calls; the client secret (sealed) is read back.
    described = idp.describe_user_pool_client(UserPoolId=app.pool_id, ClientId=secret_client["ClientId"])["UserPoolClient"]
    assert described["ClientSecret"] == secret_client["ClientSecret"]
    public = server.unsigned_client()
    public.initiate_auth(
        ClientId=secret_client["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": name,
            "PASSWORD": PASSWORD,
            "SECRET_HASH": secret_hash(name, secret_client["ClientId"], secret_client["ClientSecret"]),
        },
    )
    # The SRP verifier (sealed) and the pool's signing keys (sealed).
    user = Cognito(app.pool_id, app.client_id, username=name, boto3_client_kwargs={"endpoint_url": server.url, "region_name": REGION})
    user.authenticate(password=PASSWORD)
    assert public.get_user(AccessToken=user.access_token)["Username"] == name
    # A token issued before the rotation still verifies.
    assert public.get_user(AccessToken=tokens["AccessToken"])["Username"] == name


def test_issue16_a_master_key_rotation_reseals_every_secret_online(server_factory):
    server = server_factory.start(name="master-key")
    app = App.create(server, client={"ExplicitAuthFlows": FLOWS})
    secret_client = app.idp.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName=unique("secret"), GenerateSecret=True, ExplicitAuthFlows=FLOWS
    )["UserPoolClient"]
    name = unique("rotating")
    app.confirmed_user(name)
    tokens = app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    # Without a signature the reseal is refused.
    assert reseal(server, signed=False).json()["__type"] == "MissingAuthenticationTokenException"

    data_dir = server.store.data_dir
    listen = server.url.removeprefix("http://")
    old_key = (data_dir / "master.key").read_text().strip()
    server.stop()
    done = run_tessera(["master-key", "rotate", *server.store.args()])
    assert done.returncode == 0, done.stderr
    new_key = (data_dir / "master.key").read_text().strip()
    assert new_key != old_key
    assert (data_dir / "master.key.previous").read_text().split() == [old_key]
    assert oct((data_dir / "master.key").stat().st_mode & 0o777) == "0o600"

    # The key ring: the new key seals, the old one still opens.
    # Restarted on the same address, so that the tokens' issuer is still the server's.
    server = server_factory.start(server.store, name="master-key-ring", listen=listen)
    works(server, app, secret_client, name, tokens)
    first = reseal(server)
    assert first.status_code == 200, first.text
    report = first.json()
    # At least the root key, two signing keys, two client secrets' worth and the verifier.
    assert report["Resealed"] >= 4 and report["Unreadable"] == 0, report
    second = reseal(server).json()
    assert second["Resealed"] == 0 and second["Unreadable"] == 0, second
    assert second["Current"] >= report["Resealed"]

    # The old key forgotten: the new one alone opens every secret.
    server.stop()
    (data_dir / "master.key.previous").unlink()
    server = server_factory.start(server.store, name="master-key-new", listen=listen)
    works(server, app, secret_client, name, tokens)
    done = run_tessera(["master-key", "reseal", *server.store.args()])
    if server.store.backend == "sqlite":
        assert done.returncode != 0 and "/admin/master-key/reseal" in done.stderr, done.stderr
    else:
        assert done.returncode == 0 and "re-sealed 0 values" in done.stdout, done.stdout + done.stderr
