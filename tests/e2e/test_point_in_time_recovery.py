"""Issue 16: point-in-time recovery of a user pool through boto3, on both backends:
InitiatePointInTimeRecovery, StartPointInTimeRecovery, CancelPointInTimeRecovery,
DescribePointInTimeRecovery and ListPointInTimeRecoveries.

The file proves that an Initiate only previews (what the restore would create, update and
delete among users, groups and users' MFA settings) and changes nothing; that Start puts the
pool's user data back as it was at the recovery point (deleted users and groups return with
their sub, attributes, memberships and passwords; later users, groups and memberships go;
later attribute changes and disabling are undone), except for a password changed after the
point, which stays the current one, as in Cognito; that a cancelled recovery restores nothing
and cannot be started; that the list is newest first and pages; and that each refusal
(unknown pool or recovery, a point too recent or before the pool, a LITE pool, a recovery
already pending, three a day, one restore a day) answers Cognito's error and leaves nothing
behind.

A recovery point must be at least fifteen minutes in the past. Each test therefore runs a
server of its own in `--test-mode` and moves its clock forward twenty minutes after taking the
point, so the point stays comparable to the pool's creation time (real time) and no other
test sees the moved clock."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from unittest import mock

import requests
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP

from helpers import HTTP_TIMEOUT, PASSWORD, REGION, attribute_dict, attribute_list, expect_error, unique

NEW_PASSWORD = "N3w-Passw0rd!"
CLOCK_STEP = 1200
ENTITIES = ["Users", "Groups", "User MFAs", "Passkeys"]
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
RESTORE_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NO_SUCH_POOL = "us-east-1_NoSuchPoo"
SMS = {
    "SmsAuthenticationMessage": "Your MFA code is {####}",
    "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"},
}


def pitr_server(server_factory, name: str):
    return server_factory.start(name=name, extra_args=["--test-mode"])


def advance(server, seconds: int = CLOCK_STEP) -> None:
    resp = requests.post(f"{server.url}/admin/test/clock", json={"advance_seconds": seconds}, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text


def recovery_point() -> datetime:
    """A point with a tenth of a second on either side, so that no write lands on it."""
    time.sleep(0.1)
    point = datetime.now(timezone.utc)
    time.sleep(0.1)
    return point


def new_pool(idp, **kwargs) -> tuple[str, str]:
    pool_id = idp.create_user_pool(PoolName=unique("pitr"), **kwargs)["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=FLOWS)[
        "UserPoolClient"
    ]["ClientId"]
    return pool_id, client_id


def add_user(idp, pool_id: str, username: str, password: str = PASSWORD, **attributes) -> None:
    attributes = {"email": f"{username}@example.com", "email_verified": "true", **attributes}
    idp.admin_create_user(
        UserPoolId=pool_id, Username=username, UserAttributes=attribute_list(attributes), MessageAction="SUPPRESS"
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)


def attributes_of(idp, pool_id: str, name: str) -> dict:
    return attribute_dict(idp.admin_get_user(UserPoolId=pool_id, Username=name)["UserAttributes"])


def groups_of(idp, pool_id: str, name: str) -> list[str]:
    return sorted(g["GroupName"] for g in idp.admin_list_groups_for_user(UserPoolId=pool_id, Username=name)["Groups"])


def members(idp, pool_id: str, group: str) -> list[str]:
    return sorted(u["Username"] for u in idp.list_users_in_group(UserPoolId=pool_id, GroupName=group)["Users"])


def usernames(idp, pool_id: str) -> list[str]:
    out = []
    for page in idp.get_paginator("list_users").paginate(UserPoolId=pool_id):
        out += [u["Username"] for u in page["Users"]]
    return sorted(out)


def sign_in(idp, pool_id: str, client_id: str, name: str, password: str) -> dict:
    return idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": password},
    )


def srp_sign_in(server, pool_id: str, client_id: str, name: str, password: str, shift: int) -> Cognito:
    """pycognito's SRP sign-in. Its proof carries the client's clock, which tessera holds to
    five minutes of its own; the server's clock was moved forward, so the proof's clock is too."""
    original = AWSSRP.get_cognito_formatted_timestamp
    shifted = staticmethod(lambda moment: original(moment + timedelta(seconds=shift)))
    with mock.patch.object(AWSSRP, "get_cognito_formatted_timestamp", shifted):
        session = Cognito(
            pool_id, client_id, username=name, boto3_client_kwargs={"endpoint_url": server.url, "region_name": REGION}
        )
        session.authenticate(password=password)
    return session


def counts(restoration: dict) -> dict[str, tuple[int, int, int]]:
    return {e["Entity"]: (e["CreateCount"], e["UpdateCount"], e["DeleteCount"]) for e in restoration["RestorePreview"]}


def check(restoration: dict, status: str, point: datetime, restore_id: str | None = None, preview: bool = True) -> dict:
    """Checks one Restoration; `preview` says the preview must be there (else: if it is)."""
    assert RESTORE_ID_RE.match(restoration["RestoreId"]), restoration
    if restore_id is not None:
        assert restoration["RestoreId"] == restore_id
    assert restoration["RestoreStatus"] == status, restoration
    assert abs(restoration["RestoreTimestamp"] - point) < timedelta(milliseconds=1), (restoration, point)
    assert isinstance(restoration["TriggerTimestamp"], datetime), restoration
    if preview or "RestorePreview" in restoration:
        assert [e["Entity"] for e in restoration["RestorePreview"]] == ENTITIES, restoration
        for entry in restoration["RestorePreview"]:
            assert all(isinstance(entry[k], int) for k in ("CreateCount", "UpdateCount", "DeleteCount")), entry
    return restoration


def listing(idp, pool_id: str, **kwargs) -> list[tuple[str, str]]:
    resp = idp.list_point_in_time_recoveries(UserPoolId=pool_id, **kwargs)
    for entry in resp.get("Restorations", []):
        assert set(entry) == {"RestoreId", "RestoreStatus", "RestoreTimestamp"}, entry
    return [(e["RestoreId"], e["RestoreStatus"]) for e in resp.get("Restorations", [])]


class Scenario:
    """A pool whose state at the recovery point ("A") differs from its state twenty minutes
    later ("B") in every way the preview counts and the restore undoes."""

    USERS = ["edited", "gone", "joiner", "keep", "leaver", "rotator"]

    def __init__(self, server):
        self.server = server
        self.idp = idp = server.client()
        self.pool_id, self.client_id = new_pool(idp)
        pool_id = self.pool_id
        # State A: six users, three groups, memberships in two of them.
        for name in self.USERS:
            add_user(idp, pool_id, name, name=name.title())
        idp.create_group(UserPoolId=pool_id, GroupName="staff", Description="Staff", Precedence=1)
        idp.create_group(UserPoolId=pool_id, GroupName="ops", Description="Operations", Precedence=3)
        idp.create_group(UserPoolId=pool_id, GroupName="tweaked", Description="Before", Precedence=5)
        for group, names in (("staff", ["keep", "gone", "leaver"]), ("ops", ["gone", "edited"])):
            for name in names:
                idp.admin_add_user_to_group(UserPoolId=pool_id, Username=name, GroupName=group)
        self.before = {name: attributes_of(idp, pool_id, name) for name in ("gone", "edited", "rotator")}
        self.point = recovery_point()
        # State B. Users: "gone" deleted (restore creates 1); "edited", "joiner", "leaver" and
        # "rotator" changed (updates 4); "newbie" created (deletes 1). "ops" only loses members
        # that are counted anyway, so no unchanged user is touched by its deletion.
        idp.admin_delete_user(UserPoolId=pool_id, Username="gone")
        idp.admin_update_user_attributes(
            UserPoolId=pool_id, Username="edited", UserAttributes=[{"Name": "name", "Value": "Edward"}]
        )
        idp.admin_disable_user(UserPoolId=pool_id, Username="edited")
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username="joiner", GroupName="staff")
        idp.admin_remove_user_from_group(UserPoolId=pool_id, Username="leaver", GroupName="staff")
        idp.admin_set_user_password(UserPoolId=pool_id, Username="rotator", Password=NEW_PASSWORD, Permanent=True)
        idp.admin_update_user_attributes(
            UserPoolId=pool_id, Username="rotator", UserAttributes=[{"Name": "name", "Value": "Renamed"}]
        )
        # Groups: "ops" deleted (creates 1), "tweaked" updated (updates 1), "newgroup" created
        # (deletes 1); memberships are counted with their users, not with the groups.
        idp.delete_group(UserPoolId=pool_id, GroupName="ops")
        idp.update_group(UserPoolId=pool_id, GroupName="tweaked", Description="After")
        idp.create_group(UserPoolId=pool_id, GroupName="newgroup", Description="New")
        add_user(idp, pool_id, "newbie")
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username="newbie", GroupName="newgroup")
        advance(server)

    def initiate(self) -> dict:
        out = self.idp.initiate_point_in_time_recovery(UserPoolId=self.pool_id, RestoreTimestamp=self.point)
        return check(out["Restoration"], "PREVIEW_GENERATED", self.point)


def test_issue16_pitr_preview_counts_and_cancel_restore_nothing(server_factory):
    s = Scenario(pitr_server(server_factory, "pitr-preview"))
    idp, pool_id = s.idp, s.pool_id
    restoration = s.initiate()
    preview = counts(restoration)
    assert preview["Users"] == (1, 4, 1), preview
    assert preview["Groups"] == (1, 1, 1), preview
    restore_id = restoration["RestoreId"]
    described = idp.describe_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)["Restoration"]
    check(described, "PREVIEW_GENERATED", s.point, restore_id)
    assert described["RestorePreview"] == restoration["RestorePreview"]
    assert described["TriggerTimestamp"] == restoration["TriggerTimestamp"]
    assert listing(idp, pool_id) == [(restore_id, "PREVIEW_GENERATED")]
    # A preview changes nothing: state B is still the pool's.
    assert usernames(idp, pool_id) == sorted(set(Scenario.USERS) - {"gone"} | {"newbie"})
    expect_error("UserNotFoundException", idp.admin_get_user, UserPoolId=pool_id, Username="gone")

    cancelled = idp.cancel_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)["Restoration"]
    check(cancelled, "PREVIEW_CANCELLED", s.point, restore_id, preview=False)
    check(
        idp.describe_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)["Restoration"],
        "PREVIEW_CANCELLED",
        s.point,
        restore_id,
    )
    # A cancelled recovery cannot be started, and cancelling it restored nothing.
    expect_error("InvalidParameterException", idp.start_point_in_time_recovery, UserPoolId=pool_id, RestoreId=restore_id)
    assert usernames(idp, pool_id) == sorted(set(Scenario.USERS) - {"gone"} | {"newbie"})
    assert attributes_of(idp, pool_id, "edited")["name"] == "Edward"
    assert groups_of(idp, pool_id, "joiner") == ["staff"]
    assert listing(idp, pool_id) == [(restore_id, "PREVIEW_CANCELLED")]


def test_issue16_pitr_start_restores_the_pool_as_it_was(server_factory):
    server = pitr_server(server_factory, "pitr-start")
    s = Scenario(server)
    idp, pool_id, client_id = s.idp, s.pool_id, s.client_id
    gone_sub = s.before["gone"]["sub"]
    restore_id = s.initiate()["RestoreId"]
    # A write between Initiate and Start is after the point too, so Start undoes it.
    add_user(idp, pool_id, "latecomer")

    started = idp.start_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)["Restoration"]
    check(started, "RESTORE_COMPLETED", s.point, restore_id, preview=False)
    assert usernames(idp, pool_id) == sorted(Scenario.USERS)
    for name in ("newbie", "latecomer"):
        expect_error("UserNotFoundException", idp.admin_get_user, UserPoolId=pool_id, Username=name)

    # The deleted user is back as it was: sub, attributes, groups and password.
    assert attributes_of(idp, pool_id, "gone") == s.before["gone"]
    assert attributes_of(idp, pool_id, "gone")["sub"] == gone_sub
    assert groups_of(idp, pool_id, "gone") == ["ops", "staff"]
    assert "AuthenticationResult" in sign_in(idp, pool_id, client_id, "gone", PASSWORD)
    session = srp_sign_in(server, pool_id, client_id, "gone", PASSWORD, CLOCK_STEP)
    assert session.id_claims["sub"] == gone_sub

    # Later attribute changes and the disabling are undone.
    assert attributes_of(idp, pool_id, "edited") == s.before["edited"]
    assert idp.admin_get_user(UserPoolId=pool_id, Username="edited")["Enabled"] is True
    assert "AuthenticationResult" in sign_in(idp, pool_id, client_id, "edited", PASSWORD)

    # Memberships and groups are as at the point.
    assert groups_of(idp, pool_id, "joiner") == []
    assert groups_of(idp, pool_id, "leaver") == ["staff"]
    assert members(idp, pool_id, "staff") == ["gone", "keep", "leaver"]
    ops = idp.get_group(UserPoolId=pool_id, GroupName="ops")["Group"]
    assert (ops["Description"], ops["Precedence"]) == ("Operations", 3)
    assert members(idp, pool_id, "ops") == ["edited", "gone"]
    assert idp.get_group(UserPoolId=pool_id, GroupName="tweaked")["Group"]["Description"] == "Before"
    expect_error("ResourceNotFoundException", idp.get_group, UserPoolId=pool_id, GroupName="newgroup")

    # Cognito's exception: a password changed after the point is kept, the rest of the
    # profile is restored.
    assert attributes_of(idp, pool_id, "rotator") == s.before["rotator"]
    assert "AuthenticationResult" in sign_in(idp, pool_id, client_id, "rotator", NEW_PASSWORD)
    expect_error("NotAuthorizedException", sign_in, idp, pool_id, client_id, "rotator", PASSWORD)

    described = idp.describe_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)["Restoration"]
    check(described, "RESTORE_COMPLETED", s.point, restore_id)
    # A completed recovery can be neither started nor cancelled again, and one restore a day
    # is all a pool gets; none of the refusals adds to the list.
    expect_error("InvalidParameterException", idp.start_point_in_time_recovery, UserPoolId=pool_id, RestoreId=restore_id)
    expect_error("InvalidParameterException", idp.cancel_point_in_time_recovery, UserPoolId=pool_id, RestoreId=restore_id)
    expect_error(
        "LimitExceededException", idp.initiate_point_in_time_recovery, UserPoolId=pool_id, RestoreTimestamp=s.point
    )
    assert listing(idp, pool_id) == [(restore_id, "RESTORE_COMPLETED")]


def test_issue16_pitr_refusals_change_nothing(server_factory):
    server = pitr_server(server_factory, "pitr-refusals")
    idp = server.client()
    pool = idp.create_user_pool(PoolName=unique("pitr"))["UserPool"]
    pool_id = pool["Id"]
    lite_id = idp.create_user_pool(PoolName=unique("pitr-lite"), UserPoolTier="LITE")["UserPool"]["Id"]
    point = recovery_point()
    initiate = idp.initiate_point_in_time_recovery
    # Without the clock moved, the point is less than fifteen minutes ago.
    expect_error("InvalidParameterException", initiate, UserPoolId=pool_id, RestoreTimestamp=point)
    advance(server)
    expect_error("ResourceNotFoundException", initiate, UserPoolId=NO_SUCH_POOL, RestoreTimestamp=point)
    expect_error("ResourceNotFoundException", idp.list_point_in_time_recoveries, UserPoolId=NO_SUCH_POOL)
    # Twenty-one minutes ago, but before the pool existed.
    expect_error(
        "InvalidParameterException", initiate, UserPoolId=pool_id, RestoreTimestamp=pool["CreationDate"] - timedelta(seconds=60)
    )
    expect_error("FeatureUnavailableInTierException", initiate, UserPoolId=lite_id, RestoreTimestamp=point)
    for operation in (idp.describe_point_in_time_recovery, idp.start_point_in_time_recovery, idp.cancel_point_in_time_recovery):
        expect_error("ResourceNotFoundException", operation, UserPoolId=pool_id, RestoreId=str(uuid.uuid4()))
    assert listing(idp, pool_id) == []

    # The refusals left nothing behind: a valid Initiate is accepted, and as nothing changed
    # after the point, its preview has nothing to do.
    restoration = check(initiate(UserPoolId=pool_id, RestoreTimestamp=point)["Restoration"], "PREVIEW_GENERATED", point)
    assert counts(restoration)["Users"] == (0, 0, 0)
    assert counts(restoration)["Groups"] == (0, 0, 0)
    # One pending recovery per pool.
    expect_error("ConcurrentModificationException", initiate, UserPoolId=pool_id, RestoreTimestamp=point)
    assert listing(idp, pool_id) == [(restoration["RestoreId"], "PREVIEW_GENERATED")]


def test_issue16_pitr_list_pages_newest_first_and_three_a_day(server_factory):
    server = pitr_server(server_factory, "pitr-list")
    idp = server.client()
    pool_id, _ = new_pool(idp)
    add_user(idp, pool_id, "someone")
    point = recovery_point()
    advance(server)

    def initiate_and_cancel() -> str:
        restore_id = idp.initiate_point_in_time_recovery(UserPoolId=pool_id, RestoreTimestamp=point)["Restoration"][
            "RestoreId"
        ]
        idp.cancel_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)
        # Apart in time, so that "newest first" has one answer.
        time.sleep(0.05)
        return restore_id

    first = initiate_and_cancel()
    second = initiate_and_cancel()
    assert listing(idp, pool_id) == [(second, "PREVIEW_CANCELLED"), (first, "PREVIEW_CANCELLED")]
    page = idp.list_point_in_time_recoveries(UserPoolId=pool_id, MaxResults=1)
    assert [e["RestoreId"] for e in page["Restorations"]] == [second]
    assert page.get("NextToken"), page
    last = idp.list_point_in_time_recoveries(UserPoolId=pool_id, MaxResults=1, NextToken=page["NextToken"])
    assert [e["RestoreId"] for e in last["Restorations"]] == [first]
    assert "NextToken" not in last, last

    # Three recoveries a day, cancelled or not; the fourth is refused and not listed.
    third = initiate_and_cancel()
    expect_error(
        "LimitExceededException", idp.initiate_point_in_time_recovery, UserPoolId=pool_id, RestoreTimestamp=point
    )
    assert [restore_id for restore_id, _ in listing(idp, pool_id)] == [third, second, first]
    assert idp.admin_get_user(UserPoolId=pool_id, Username="someone")["Enabled"] is True


def test_issue16_pitr_user_mfa_changes_are_counted_and_restored(server_factory):
    """A user's MFA settings are an entity of the preview: settings made after the recovery
    point are ones the restore deletes, settings removed since are ones it creates again."""
    server = pitr_server(server_factory, "pitr-mfa")
    idp = server.client()
    pool_id, _ = new_pool(idp)
    # SMS MFA is the one factor an administrator turns on without a device to enrol.
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL", SmsMfaConfiguration=SMS)
    add_user(idp, pool_id, "mia", name="Mia", phone_number="+15555550123")
    add_user(idp, pool_id, "max", name="Max", phone_number="+15555550124")
    add_user(idp, pool_id, "moe", name="Moe", phone_number="+15555550125")
    idp.admin_set_user_mfa_preference(
        UserPoolId=pool_id, Username="max", SMSMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    point = recovery_point()
    # After the point Mia turns SMS MFA on and Max turns it off; Moe does not change at all.
    idp.admin_set_user_mfa_preference(
        UserPoolId=pool_id, Username="mia", SMSMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    idp.admin_set_user_mfa_preference(
        UserPoolId=pool_id, Username="max", SMSMfaSettings={"Enabled": False, "PreferredMfa": False}
    )
    assert idp.admin_get_user(UserPoolId=pool_id, Username="mia")["UserMFASettingList"] == ["SMS_MFA"]
    assert idp.admin_get_user(UserPoolId=pool_id, Username="max").get("UserMFASettingList", []) == []
    advance(server)
    restoration = idp.initiate_point_in_time_recovery(UserPoolId=pool_id, RestoreTimestamp=point)["Restoration"]
    check(restoration, "PREVIEW_GENERATED", point)
    preview = counts(restoration)
    assert preview["Users"] == (0, 2, 0), preview
    assert preview["User MFAs"] == (1, 0, 1), preview
    started = idp.start_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restoration["RestoreId"])
    assert started["Restoration"]["RestoreStatus"] == "RESTORE_COMPLETED"
    assert idp.admin_get_user(UserPoolId=pool_id, Username="mia").get("UserMFASettingList", []) == []
    assert idp.admin_get_user(UserPoolId=pool_id, Username="max")["UserMFASettingList"] == ["SMS_MFA"]
    assert idp.admin_get_user(UserPoolId=pool_id, Username="moe").get("UserMFASettingList", []) == []


def test_issue16_pitr_a_name_taken_since_goes_back_to_its_first_user(server_factory):
    """A user deleted after the point whose name someone else then took: the restore gives the
    name back to the first user with the first user's password (the taker's password is not
    "a password changed since" by the same user), and the taker's refresh token dies with the
    taker."""
    server = pitr_server(server_factory, "pitr-taken")
    idp = server.client()
    pool_id, client_id = new_pool(idp)
    add_user(idp, pool_id, "alice")
    first_sub = attributes_of(idp, pool_id, "alice")["sub"]
    point = recovery_point()
    idp.admin_delete_user(UserPoolId=pool_id, Username="alice")
    add_user(idp, pool_id, "alice", password=NEW_PASSWORD)
    taker_refresh = sign_in(idp, pool_id, client_id, "alice", NEW_PASSWORD)["AuthenticationResult"]["RefreshToken"]
    advance(server)
    restoration = idp.initiate_point_in_time_recovery(UserPoolId=pool_id, RestoreTimestamp=point)["Restoration"]
    assert counts(restoration)["Users"] == (0, 1, 0)
    idp.start_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restoration["RestoreId"])
    assert attributes_of(idp, pool_id, "alice")["sub"] == first_sub
    sign_in(idp, pool_id, client_id, "alice", PASSWORD)
    expect_error("NotAuthorizedException", sign_in, idp, pool_id, client_id, "alice", NEW_PASSWORD)
    expect_error(
        "NotAuthorizedException",
        idp.admin_initiate_auth,
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": taker_refresh},
    )
