"""The user directory holds together: concurrent requests for one name, a restart on the
same data dir / database, and delivery failures that must leave nothing half-done."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from helpers import (
    PASSWORD,
    App,
    expect_error,
    free_port,
    read_outbox,
)


def race(n: int, fn):
    """Runs fn(i) for i in 0..n-1 at once; returns (successes, error codes)."""
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(fn, i) for i in range(n)]
    ok, errors = [], []
    for f in futures:
        try:
            ok.append(f.result())
        except ClientError as exc:
            errors.append(exc.response["Error"]["Code"])
    return ok, errors


def test_concurrent_sign_up_of_one_name(server, make_app):
    app = make_app(AutoVerifiedAttributes=["email"])
    clients = [server.unsigned_client() for _ in range(8)]

    def sign_up(i):
        return clients[i].sign_up(
            ClientId=app.client_id,
            Username="racer",
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": f"racer{i}@example.com"}],
        )

    ok, errors = race(8, sign_up)
    assert len(ok) == 1, (ok, errors)
    assert errors == ["UsernameExistsException"] * 7, errors
    assert app.usernames() == ["racer"]
    assert app.attrs("racer")["sub"] == ok[0]["UserSub"]


def test_concurrent_sign_up_of_one_email_username(server, make_app):
    app = make_app(UsernameAttributes=["email"])
    clients = [server.unsigned_client() for _ in range(6)]

    def sign_up(i):
        return clients[i].sign_up(ClientId=app.client_id, Username="same@example.com", Password=PASSWORD)

    ok, errors = race(6, sign_up)
    assert len(ok) == 1, (ok, errors)
    assert errors == ["UsernameExistsException"] * 5, errors
    assert len(app.usernames()) == 1


def test_concurrent_add_to_group(server, make_app):
    """AdminAddUserToGroup is idempotent, also when the same request arrives several times at once."""
    app = make_app()
    app.idp.create_group(UserPoolId=app.pool_id, GroupName="g")
    app.create_user("gina")
    clients = [server.client() for _ in range(8)]
    for _ in range(5):
        ok, errors = race(
            8,
            lambda i: clients[i].admin_add_user_to_group(UserPoolId=app.pool_id, Username="gina", GroupName="g"),
        )
        assert errors == [], errors
        users = app.idp.list_users_in_group(UserPoolId=app.pool_id, GroupName="g")["Users"]
        assert [u["Username"] for u in users] == ["gina"]
        app.idp.admin_remove_user_from_group(UserPoolId=app.pool_id, Username="gina", GroupName="g")


def test_concurrent_create_group(server, make_app):
    app = make_app()
    clients = [server.client() for _ in range(8)]
    for round_ in range(3):
        name = f"g{round_}"
        ok, errors = race(8, lambda i: clients[i].create_group(UserPoolId=app.pool_id, GroupName=name))
        assert len(ok) == 1, (ok, errors)
        assert errors == ["GroupExistsException"] * 7, errors


def test_concurrent_admin_create_user(server, make_app):
    app = make_app()
    clients = [server.client() for _ in range(8)]
    for round_ in range(3):
        name = f"u{round_}"
        ok, errors = race(
            8,
            lambda i: clients[i].admin_create_user(UserPoolId=app.pool_id, Username=name, MessageAction="SUPPRESS"),
        )
        assert len(ok) == 1, (ok, errors)
        assert errors == ["UsernameExistsException"] * 7, errors


def test_concurrent_alias_claims(server, make_app):
    """Two users claiming one verified e-mail alias at once: one wins, the other gets
    AliasExistsException; the alias then finds exactly the winner."""
    app = make_app(AliasAttributes=["email"])
    clients = [server.client() for _ in range(6)]
    for round_ in range(3):
        names = [f"r{round_}-{i}" for i in range(6)]
        for n in names:
            app.create_user(n)
        email = f"claim{round_}@example.com"
        ok, errors = race(
            6,
            lambda i: clients[i].admin_update_user_attributes(
                UserPoolId=app.pool_id,
                Username=names[i],
                UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            ),
        )
        assert len(ok) == 1, (ok, errors)
        assert errors == ["AliasExistsException"] * 5, errors
        owners = [n for n in names if app.attrs(n).get("email") == email]
        assert len(owners) == 1, owners
        assert app.get(email)["Username"] == owners[0]


def test_restart_keeps_the_directory(server_factory):
    first = server_factory.start(name="users-persist-1")
    app = App.create(
        first,
        AutoVerifiedAttributes=["email"],
        AliasAttributes=["email"],
        Schema=[{"Name": "tenant", "AttributeDataType": "String", "Mutable": True}],
    )
    app.sign_up("ann", attributes={"email": "ann@example.com", "custom:tenant": "acme"})
    app.public.confirm_sign_up(ClientId=app.client_id, Username="ann", ConfirmationCode=app.code("ann"))
    app.sign_up("bob", attributes={"email": "bob@example.com"})
    bob_code = app.code("bob")
    app.idp.create_group(UserPoolId=app.pool_id, GroupName="admins", Precedence=3)
    app.idp.admin_add_user_to_group(UserPoolId=app.pool_id, Username="ann", GroupName="admins")
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username="bob")
    app.idp.admin_enable_user(UserPoolId=app.pool_id, Username="bob")
    before = {u: app.get(u) for u in ("ann", "bob")}
    for u in before.values():
        u.pop("ResponseMetadata")
    outbox_before = read_outbox(first, pool_id=app.pool_id)
    assert first.stop() == 0, first.output

    second = server_factory.start(first.store, name="users-persist-2")
    again = App(second, second.client(), second.unsigned_client(), app.pool, app.client)
    for name, user in before.items():
        got = again.get(name)
        got.pop("ResponseMetadata")
        assert got == user
    assert again.get("ann@example.com")["Username"] == "ann"
    assert again.attrs("ann")["custom:tenant"] == "acme"
    groups = again.idp.admin_list_groups_for_user(UserPoolId=app.pool_id, Username="ann")["Groups"]
    assert [(g["GroupName"], g["Precedence"]) for g in groups] == [("admins", 3)]
    assert read_outbox(second, pool_id=app.pool_id) == outbox_before
    # a code issued before the restart is still good after it
    again.public.confirm_sign_up(ClientId=app.client_id, Username="bob", ConfirmationCode=bob_code)
    assert again.status("bob") == "CONFIRMED"


def broken_delivery_server(server_factory, tmp_path):
    config = tmp_path / "tessera.toml"
    config.write_text(
        f"""
[delivery.smtp]
host = "127.0.0.1"
port = {free_port()}
security = "none"
from = "tessera <no-reply@tessera.test>"
timeout_seconds = 5
"""
    )
    return server_factory.start(name="broken-smtp", extra_args=["--config", str(config)])


def test_failed_delivery_leaves_state_alone(server_factory, tmp_path):
    server = broken_delivery_server(server_factory, tmp_path)
    app = App.create(server, AutoVerifiedAttributes=["email"])
    app.create_user("cara", attributes={"email": "cara@example.com", "email_verified": "true"})
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="cara", Password=PASSWORD, Permanent=True)
    before = app.get("cara")
    before.pop("ResponseMetadata")

    expect_error("CodeDeliveryFailureException", app.public.forgot_password, ClientId=app.client_id, Username="cara")
    expect_error(
        "CodeDeliveryFailureException", app.idp.admin_reset_user_password, UserPoolId=app.pool_id, Username="cara"
    )
    after = app.get("cara")
    after.pop("ResponseMetadata")
    assert after == before
    assert after["UserStatus"] == "CONFIRMED"
    # no reset code was left behind
    expect_error(
        "ExpiredCodeException",
        app.public.confirm_forgot_password,
        ClientId=app.client_id,
        Username="cara",
        ConfirmationCode="123456",
        Password="N3w-Passw0rd",
    )

    # a RESEND whose invitation cannot be delivered keeps the old temporary password state
    app.create_user("dora", attributes={"email": "dora@example.com"})
    expect_error(
        "CodeDeliveryFailureException",
        app.idp.admin_create_user,
        UserPoolId=app.pool_id,
        Username="dora",
        MessageAction="RESEND",
        DesiredDeliveryMediums=["EMAIL"],
    )
    assert app.status("dora") == "FORCE_CHANGE_PASSWORD"
