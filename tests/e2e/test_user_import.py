"""Issue 16: `tessera users import` brings users from other systems with their password hashes
(bcrypt from Python's bcrypt, argon2 from argon2-cffi, Django's own PBKDF2 hasher, a Keycloak
realm export's PBKDF2 credential, Firebase's scrypt variant and plain scrypt). Each user signs in
with the old password (USER_PASSWORD_AUTH through boto3); that first sign-in replaces the hash
with argon2id and an SRP verifier, so pycognito's SRP works afterwards, while before it the SRP
sign-in is refused like a wrong password (no verifier exists until the password is known).
`tessera users export` writes the pool's users; imported into a second tessera, every one of
them signs in with its password and keeps its groups."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets

import argon2
import bcrypt
import botocore.exceptions
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pycognito import Cognito

from helpers import App, run_tessera, unique

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

# A Firebase project's password-hash parameters, as its console shows them.
FIREBASE = {
    "signer_key": base64.b64encode(secrets.token_bytes(64)).decode(),
    "salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}


def firebase_user(password: str) -> dict:
    """Firebase's scrypt: scrypt(password, salt + separator) keys AES-256-CTR over the signer key."""
    salt = secrets.token_bytes(12)
    derived = hashlib.scrypt(
        password.encode(),
        salt=salt + base64.b64decode(FIREBASE["salt_separator"]),
        n=2 ** FIREBASE["mem_cost"],
        r=FIREBASE["rounds"],
        p=1,
        dklen=64,
        maxmem=64 * 1024 * 1024,
    )
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(b"\0" * 16)).encryptor()
    hashed = encryptor.update(base64.b64decode(FIREBASE["signer_key"])) + encryptor.finalize()
    return {"format": "firebase", "hash": base64.b64encode(hashed).decode(), "salt": base64.b64encode(salt).decode(), **FIREBASE}


def django_hash(password: str) -> str:
    from django.conf import settings

    if not settings.configured:
        settings.configure(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"])
    from django.contrib.auth.hashers import make_password

    return make_password(password, hasher="pbkdf2_sha256")


def keycloak_credential(password: str) -> dict:
    """A password credential as Keycloak's realm export writes it (pbkdf2-sha256, 27500)."""
    salt = secrets.token_bytes(16)
    value = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 27500, 64)
    return {
        "format": "keycloak",
        "secretData": json.dumps({"value": base64.b64encode(value).decode(), "salt": base64.b64encode(salt).decode(), "additionalParameters": {}}),
        "credentialData": json.dumps({"hashIterations": 27500, "algorithm": "pbkdf2-sha256", "additionalParameters": {}}),
    }


def scrypt_hash(password: str) -> str:
    salt = secrets.token_bytes(16)
    out = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode().rstrip("=")  # noqa: E731
    return f"$scrypt$ln=14,r=8,p=1${b64(salt)}${b64(out)}"


def legacy_users() -> list[tuple[str, str, dict]]:
    """(username, password, password member) for every supported scheme."""
    users = []
    for scheme in ("bcrypt", "argon2", "django", "keycloak", "firebase", "scrypt"):
        name = unique(f"old-{scheme}")
        password = f"Legacy-{scheme}-{secrets.token_hex(4)}!"
        if scheme == "bcrypt":
            member = {"format": "bcrypt", "hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()}
        elif scheme == "argon2":
            member = {"format": "argon2", "hash": argon2.PasswordHasher().hash(password)}
        elif scheme == "django":
            member = {"format": "django", "hash": django_hash(password)}
        elif scheme == "keycloak":
            member = keycloak_credential(password)
        elif scheme == "firebase":
            member = firebase_user(password)
        else:
            member = {"format": "scrypt", "hash": scrypt_hash(password)}
        users.append((name, password, member))
    return users


def password_sign_in(app: App, name: str, password: str) -> dict:
    return app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": password}
    )["AuthenticationResult"]


def srp_sign_in(app: App, name: str, password: str) -> Cognito:
    user = Cognito(
        app.pool_id,
        app.client_id,
        username=name,
        boto3_client_kwargs={"endpoint_url": app.server.url, "region_name": "us-east-1"},
    )
    user.authenticate(password=password)
    return user


def import_file(tmp_path, lines: list[dict]) -> str:
    path = tmp_path / f"import-{secrets.token_hex(4)}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def run_import(server_factory, server, pool_id: str, path: str):
    """Runs `tessera users import`; a SQLite server is stopped for it (the command refuses
    to write under a running one) and started again. Returns (server, completed process)."""
    args = ["users", "import", "--pool", pool_id, "--input", path, *server.store.args()]
    if server.store.backend == "sqlite":
        refused = run_tessera(args)
        assert refused.returncode != 0 and "CreateUserImportJob" in refused.stderr, refused.stderr
        server.stop()
        done = run_tessera(args)
        server = server_factory.start(server.store, name="import-again")
    else:
        done = run_tessera(args)
    assert done.returncode == 0, done.stderr
    return server, done


def rebind(server, app: App) -> App:
    return App(server, server.client(), server.unsigned_client(), {"Id": app.pool_id}, {"ClientId": app.client_id})


def test_issue16_users_imported_with_other_systems_hashes_sign_in_and_are_rehashed(server_factory, tmp_path):
    server = server_factory.start(name="import")
    app = App.create(server, client={"ExplicitAuthFlows": FLOWS})
    app.idp.create_group(UserPoolId=app.pool_id, GroupName="imported")
    users = legacy_users()
    lines = [
        {
            "username": name,
            "attributes": {"email": f"{name}@example.com", "email_verified": "true"},
            "groups": ["imported"],
            "password": member,
        }
        for name, _, member in users
    ]
    lines.append({"username": "bad-hash", "password": {"format": "bcrypt", "hash": "$2b$10$short"}})
    lines.append({"username": "no-group", "groups": ["missing"], "password": users[0][2]})
    lines.append({"username": users[0][0], "password": users[0][2]})
    server, done = run_import(server_factory, server, app.pool_id, import_file(tmp_path, lines))
    app = rebind(server, app)
    assert f"imported {len(users)} users" in done.stdout and "1 skipped, 2 failed" in done.stdout, done.stdout
    assert "[FAILED] Line Number 7 - The password hash is not in a supported form." in done.stderr, done.stderr
    assert "[FAILED] Line Number 8 - The group missing does not exist." in done.stderr, done.stderr
    assert "[SKIPPED] Line Number 9 - The user already exists." in done.stderr, done.stderr
    for name in ("bad-hash", "no-group"):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            app.get(name)
        assert err.value.response["Error"]["Code"] == "UserNotFoundException"

    for name, password, member in users:
        got = app.get(name)
        assert got["UserStatus"] == "CONFIRMED", got
        groups = app.idp.admin_list_groups_for_user(UserPoolId=app.pool_id, Username=name)["Groups"]
        assert [g["GroupName"] for g in groups] == ["imported"]
        # Before the first password sign-in there is no SRP verifier: refused like a wrong password.
        with pytest.raises(botocore.exceptions.ClientError) as err:
            srp_sign_in(app, name, password)
        assert err.value.response["Error"]["Code"] == "NotAuthorizedException", member["format"]
        with pytest.raises(botocore.exceptions.ClientError) as err:
            password_sign_in(app, name, password + "x")
        assert err.value.response["Error"]["Code"] == "NotAuthorizedException", member["format"]
        tokens = password_sign_in(app, name, password)
        assert app.public.get_user(AccessToken=tokens["AccessToken"])["Username"] == name
        # The first sign-in replaced the hash: SRP works now, and so does the password again.
        assert srp_sign_in(app, name, password).access_token, member["format"]
        password_sign_in(app, name, password)

    # The export shows every imported hash replaced by tessera's argon2id, with an SRP verifier.
    exported = tmp_path / "export.jsonl"
    done = run_tessera(["users", "export", "--pool", app.pool_id, "--output", str(exported), *server.store.args()])
    assert done.returncode == 0, done.stderr
    assert oct(os.stat(exported).st_mode & 0o777) == "0o600"
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert lines[0]["pool"]["id"] == app.pool_id
    by_name = {line["username"]: line for line in lines[1:]}
    for name, _, _ in users:
        password = by_name[name]["password"]
        assert password["format"] == "tessera" and password["hash"].startswith("$argon2id$"), password["hash"][:12]
        assert password["srp"]["pool"] == app.pool_id.split("_", 1)[1]


def test_issue16_an_export_imports_into_another_tessera_and_every_user_signs_in(server_factory, tmp_path):
    source = server_factory.start(name="export-source")
    app = App.create(source, client={"ExplicitAuthFlows": FLOWS})
    app.idp.create_group(UserPoolId=app.pool_id, GroupName="staff")
    names = [unique("moving") for _ in range(4)]
    for name in names:
        app.confirmed_user(name, {"email": f"{name}@example.com"}, password=f"Pw-{name}-1")
        app.idp.admin_add_user_to_group(UserPoolId=app.pool_id, Username=name, GroupName="staff")
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username=names[3])
    exported = tmp_path / "pool.jsonl"
    done = run_tessera(["users", "export", "--pool", app.pool_id, "--output", str(exported), *source.store.args()])
    assert done.returncode == 0 and f"exported {len(names)} users" in done.stdout, done.stderr
    # The export never overwrites a file.
    again = run_tessera(["users", "export", "--pool", app.pool_id, "--output", str(exported), *source.store.args()])
    assert again.returncode != 0

    target = server_factory.start(name="export-target")
    other = App.create(target, client={"ExplicitAuthFlows": FLOWS})
    other.idp.create_group(UserPoolId=other.pool_id, GroupName="staff")
    target, done = run_import(server_factory, target, other.pool_id, str(exported))
    other = rebind(target, other)
    assert f"imported {len(names)} users" in done.stdout, done.stdout
    for name in names[:3]:
        original = app.get(name)
        moved = other.get(name)
        assert moved["UserStatus"] == "CONFIRMED" and moved["Enabled"]
        attrs = {a["Name"]: a["Value"] for a in moved["UserAttributes"]}
        assert attrs["sub"] == {a["Name"]: a["Value"] for a in original["UserAttributes"]}["sub"]
        assert attrs["email"] == f"{name}@example.com"
        groups = other.idp.admin_list_groups_for_user(UserPoolId=other.pool_id, Username=name)["Groups"]
        assert [g["GroupName"] for g in groups] == ["staff"]
        # The SRP verifier was made for the source pool's name: the password flow signs in and
        # makes a new one, after which SRP works in the new pool too.
        tokens = password_sign_in(other, name, f"Pw-{name}-1")
        assert other.public.get_user(AccessToken=tokens["AccessToken"])["Username"] == name
        assert srp_sign_in(other, name, f"Pw-{name}-1").access_token
    assert other.get(names[3])["Enabled"] is False
    with pytest.raises(botocore.exceptions.ClientError) as err:
        password_sign_in(other, names[3], f"Pw-{names[3]}-1")
    assert err.value.response["Error"]["Message"] == "User is disabled."


def test_issue16_a_whole_pool_moves_to_another_tessera(server_factory, tmp_path):
    """An export starts with the pool's configuration: imported without --pool into a tessera
    that lacks the pool, it recreates the pool under the same id with its app clients (same ids
    and secrets) and groups, so an app keeps its configuration and users sign in at once, with
    SRP too (their verifiers were made for this pool id)."""
    source = server_factory.start(name="pool-source")
    app = App.create(source, client={"ExplicitAuthFlows": FLOWS})
    secret_client = app.idp.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName=unique("secret"), GenerateSecret=True, ExplicitAuthFlows=FLOWS
    )["UserPoolClient"]
    app.idp.create_group(UserPoolId=app.pool_id, GroupName="admins", Description="Administrators", Precedence=1)
    names = [unique("whole") for _ in range(3)]
    for name in names:
        app.confirmed_user(name, {"email": f"{name}@example.com"}, password=f"Pw-{name}-1")
    app.idp.admin_add_user_to_group(UserPoolId=app.pool_id, Username=names[0], GroupName="admins")
    exported = tmp_path / "whole.jsonl"
    done = run_tessera(["users", "export", "--pool", app.pool_id, "--output", str(exported), *source.store.args()])
    assert done.returncode == 0, done.stderr

    target = server_factory.start(name="pool-target")
    args = ["users", "import", "--input", str(exported), *target.store.args()]
    if target.store.backend == "sqlite":
        target.stop()
    done = run_tessera(args)
    assert done.returncode == 0, done.stderr
    assert f"created user pool {app.pool_id} with 2 app clients and 1 groups" in done.stdout, done.stdout
    assert f"imported {len(names)} users" in done.stdout, done.stdout
    if target.store.backend == "sqlite":
        target = server_factory.start(target.store, name="pool-target-again")
    moved = rebind(target, app)
    described = moved.idp.describe_user_pool(UserPoolId=app.pool_id)["UserPool"]
    assert described["Name"] == app.pool["Name"]
    client = moved.idp.describe_user_pool_client(UserPoolId=app.pool_id, ClientId=secret_client["ClientId"])["UserPoolClient"]
    assert client["ClientSecret"] == secret_client["ClientSecret"] and client["ExplicitAuthFlows"] == secret_client["ExplicitAuthFlows"]
    group = moved.idp.get_group(UserPoolId=app.pool_id, GroupName="admins")["Group"]
    assert (group["Description"], group["Precedence"]) == ("Administrators", 1)
    for name in names:
        # SRP first: the verifier made in the source pool is valid in the same pool id.
        assert srp_sign_in(moved, name, f"Pw-{name}-1").access_token
        password_sign_in(moved, name, f"Pw-{name}-1")
    assert [g["GroupName"] for g in moved.idp.admin_list_groups_for_user(UserPoolId=app.pool_id, Username=names[0])["Groups"]] == ["admins"]
    # Importing the same file again creates nothing and skips every user.
    if target.store.backend == "sqlite":
        target.stop()
    again = run_tessera(args)
    assert again.returncode == 0 and f"{len(names)} skipped" in again.stdout and "created user pool" not in again.stdout, again.stdout
