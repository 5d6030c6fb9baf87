"""No answer echoes unbounded input: an error message quotes at most the first 128 characters
of a caller's value, followed by `...`, in the JSON body and in the `x-amzn-ErrorMessage`
header alike. A 100 KB value quoted whole made a 100 KB header, which the AWS SDKs cannot
read (botocore reported a broken connection instead of the error)."""

from __future__ import annotations

import pytest

from helpers import TARGET_PREFIX, assert_aws_error, expect_error, raw_post, signed_post

HUGE = 100_000
# The longest excerpt of a caller's value a message may hold, and the longest message a
# single quoted value can produce (the value's excerpt plus AWS's wording around it).
EXCERPT = 128
SHORT = 1024


def short(message: str) -> str:
    assert len(message) <= SHORT, f"a {len(message)}-character message: {message[:300]!r}..."
    return message


def test_boto3_reads_a_huge_list_users_filter_error(server, idp, pool):
    err = expect_error("InvalidParameterException", idp.list_users, UserPoolId=pool["Id"], Filter="x" * HUGE)
    assert short(err["Message"]) == (
        f"1 validation error detected: Value '{'x' * EXCERPT}...' at 'filter' failed to satisfy "
        "constraint: Member must have length less than or equal to 256"
    )


def test_boto3_reads_a_huge_username_error(server, idp, pool):
    # Usernames are sensitive in the model, so the value is not quoted at all.
    err = expect_error("InvalidParameterException", idp.admin_get_user, UserPoolId=pool["Id"], Username="u" * HUGE)
    assert short(err["Message"]) == (
        "1 validation error detected: Value at 'username' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    )


def test_boto3_reads_a_huge_client_id_error(server, public):
    err = expect_error(
        "InvalidParameterException",
        public.initiate_auth,
        ClientId="c" * HUGE,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "nobody", "PASSWORD": "Passw0rd!"},
    )
    assert "at 'clientId'" in short(err["Message"])


def test_boto3_reads_a_huge_user_pool_id_error(server, idp):
    # Not sensitive, and failing two constraints: quoted twice, cut both times.
    err = expect_error("InvalidParameterException", idp.list_users, UserPoolId="bad pool " + "p" * HUGE)
    message = err["Message"]
    assert message.startswith("2 validation errors detected: "), message[:300]
    assert message.count(f"Value 'bad pool {'p' * (EXCERPT - 9)}...' at 'userPoolId'") == 2, message[:600]
    short(message)


def test_a_filter_on_a_long_attribute_name_quotes_its_start(server, idp, pool):
    # Within the model's 256 characters, so it reaches the filter parser, whose message
    # quotes the attribute name.
    name = "a" * 240
    err = expect_error("InvalidParameterException", idp.list_users, UserPoolId=pool["Id"], Filter=f'{name} = "x"')
    assert err["Message"] == f"Invalid search attribute: {'a' * EXCERPT}..."


@pytest.mark.parametrize(
    "operation,body",
    [
        ("ListUsers", lambda pool: {"UserPoolId": pool, "Filter": "x" * HUGE}),
        ("ListUsers", lambda pool: {"UserPoolId": pool, "AttributesToGet": ["n" * HUGE]}),
        ("ListUsers", lambda pool: {"UserPoolId": "bad pool " + "p" * HUGE}),
        ("AdminGetUser", lambda pool: {"UserPoolId": pool, "Username": "u" * HUGE}),
        ("CreateGroup", lambda pool: {"UserPoolId": pool, "GroupName": "g" * HUGE}),
        ("InitiateAuth", lambda pool: {"ClientId": "c" * HUGE, "AuthFlow": "USER_PASSWORD_AUTH"}),
        ("AdminCreateUser", lambda pool: {"UserPoolId": pool, "Username": "someone", "ClientMetadata": {"k" * HUGE: 5}}),
    ],
    ids=["filter", "attributes-to-get", "user-pool-id", "username", "group-name", "client-id", "map-key"],
)
def test_header_and_body_messages_are_short(server, pool, operation, body):
    akid, secret = server.root_credentials()
    resp = signed_post(server.url, operation, body(pool["Id"]), akid, secret)
    err = assert_aws_error(resp, {"InvalidParameterException", "SerializationException"})
    short(err["message"])
    header = resp.headers.get("x-amzn-ErrorMessage")
    assert header is not None, dict(resp.headers)
    # The messages here are ASCII and short, so the header carries the body's message whole.
    assert header == err["message"]


def test_a_huge_unknown_operation_name_is_not_echoed(server):
    resp = raw_post(server.url, None, {}, headers={"X-Amz-Target": TARGET_PREFIX + "N" * HUGE})
    err = assert_aws_error(resp, "UnknownOperationException")
    assert short(err["message"]) == f"Unknown operation {TARGET_PREFIX}{'N' * (EXCERPT - len(TARGET_PREFIX))}...."
    assert resp.headers.get("x-amzn-ErrorMessage") == err["message"]
