"""Issue 16: users' authentication events, as Cognito records them for pools with advanced
security (UserPoolAddOns.AdvancedSecurityMode AUDIT): sign-ups, sign-ins passed and failed,
password changes and resets, newest first, paginated, with administrators' feedback
(AdminListUserAuthEvents, AdminUpdateAuthEventFeedback through boto3), and users' own feedback
with the token the audit stream carries (UpdateAuthEventFeedback). A pool without the add-on
refuses with UserPoolAddOnNotEnabledException and records nothing."""

from __future__ import annotations

import time

import pytest

from helpers import PASSWORD, expect_error, unique

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def make_pool(idp, mode: str | None):
    kwargs = {"PoolName": unique("audit"), "AutoVerifiedAttributes": ["email"]}
    if mode:
        kwargs["UserPoolAddOns"] = {"AdvancedSecurityMode": mode}
    pool = idp.create_user_pool(**kwargs)["UserPool"]
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    return pool["Id"], client["ClientId"]


def sign_in(public, client_id, name, password):
    return public.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": password}
    )["AuthenticationResult"]


def test_issue16_events_are_recorded_listed_and_given_feedback(idp, public):
    pool_id, client_id = make_pool(idp, "AUDIT")
    name = unique("audited")
    public.sign_up(
        ClientId=client_id, Username=name, Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}]
    )
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=name)
    idp.admin_update_user_attributes(
        UserPoolId=pool_id, Username=name, UserAttributes=[{"Name": "email_verified", "Value": "true"}]
    )
    tokens = sign_in(public, client_id, name, PASSWORD)
    expect_error("NotAuthorizedException", sign_in, public, client_id, name, "Wrong-passw0rd")
    public.change_password(AccessToken=tokens["AccessToken"], PreviousPassword=PASSWORD, ProposedPassword="N3w-Passw0rd!")
    public.forgot_password(ClientId=client_id, Username=name)

    events = idp.admin_list_user_auth_events(UserPoolId=pool_id, Username=name)["AuthEvents"]
    summary = [(e["EventType"], e["EventResponse"]) for e in events]
    assert summary == [
        ("ForgotPassword", "Pass"),
        ("PasswordChange", "Pass"),
        ("SignIn", "Fail"),
        ("SignIn", "Pass"),
        ("SignUp", "Pass"),
    ], summary
    dates = [e["CreationDate"] for e in events]
    assert dates == sorted(dates, reverse=True)
    assert events[2]["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Failure"}]
    assert events[3]["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    for event in events:
        assert event["EventRisk"]["RiskDecision"] == "NoRisk" and "EventFeedback" not in event
        assert len(event["EventId"]) >= 1

    # Pages of two, newest first, the same events.
    paged, token = [], None
    while True:
        page = idp.admin_list_user_auth_events(
            UserPoolId=pool_id, Username=name, MaxResults=2, **({"NextToken": token} if token else {})
        )
        assert len(page["AuthEvents"]) <= 2
        paged += page["AuthEvents"]
        token = page.get("NextToken")
        if not token:
            break
    assert [e["EventId"] for e in paged] == [e["EventId"] for e in events]

    failed = events[2]["EventId"]
    idp.admin_update_auth_event_feedback(UserPoolId=pool_id, Username=name, EventId=failed, FeedbackValue="Invalid")
    again = idp.admin_list_user_auth_events(UserPoolId=pool_id, Username=name)["AuthEvents"]
    feedback = next(e for e in again if e["EventId"] == failed)["EventFeedback"]
    assert feedback["FeedbackValue"] == "Invalid" and feedback["Provider"] == "Admin" and feedback["FeedbackDate"]
    expect_error(
        "ResourceNotFoundException",
        idp.admin_update_auth_event_feedback,
        UserPoolId=pool_id,
        Username=name,
        EventId="no-such-event",
        FeedbackValue="Valid",
    )
    expect_error("UserNotFoundException", idp.admin_list_user_auth_events, UserPoolId=pool_id, Username="nobody")
    # Deleting the user deletes its events with it.
    idp.admin_delete_user(UserPoolId=pool_id, Username=name)
    public.sign_up(ClientId=client_id, Username=name, Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}])
    fresh = idp.admin_list_user_auth_events(UserPoolId=pool_id, Username=name)["AuthEvents"]
    assert [(e["EventType"], e["EventResponse"]) for e in fresh] == [("SignUp", "Pass")]


@pytest.mark.parametrize("mode", [None, "OFF"])
def test_issue16_pools_without_advanced_security_refuse_and_record_nothing(idp, public, mode):
    pool_id, client_id = make_pool(idp, mode)
    name = unique("plain")
    idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True)
    sign_in(public, client_id, name, PASSWORD)
    expect_error("UserPoolAddOnNotEnabledException", idp.admin_list_user_auth_events, UserPoolId=pool_id, Username=name)
    expect_error(
        "UserPoolAddOnNotEnabledException",
        idp.admin_update_auth_event_feedback,
        UserPoolId=pool_id,
        Username=name,
        EventId="any",
        FeedbackValue="Valid",
    )
    expect_error(
        "UserPoolAddOnNotEnabledException",
        public.update_auth_event_feedback,
        UserPoolId=pool_id,
        Username=name,
        EventId="any",
        FeedbackToken="any",
        FeedbackValue="Valid",
    )


def test_issue16_events_are_streamed_to_a_signed_webhook(backend, server_factory, tmp_path):
    """`[audit] webhook_url`: each event, once stored, is POSTed signed as the triggers'
    webhooks are (Standard Webhooks); the receiver verifies the signature."""
    from trigger_support import WebhookReceiver

    receiver = WebhookReceiver().start()
    try:
        config = tmp_path / "tessera.toml"
        config.write_text(
            f'[audit]\nwebhook_url = "{receiver.url("audit")}"\nwebhook_secrets = ["{receiver.secret}"]\n'
        )
        node = server_factory.start(name="audit-stream", extra_args=["--config", str(config)])
        idp, public = node.client(), node.unsigned_client()
        pool_id, client_id = make_pool(idp, "ENFORCED")
        name = unique("streamed")
        idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True)
        sign_in(public, client_id, name, PASSWORD)
        expect_error("NotAuthorizedException", sign_in, public, client_id, name, "Wrong-passw0rd")
        deadline = time.monotonic() + 10
        while len(receiver.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.calls) == 2, receiver.calls
        listed = idp.admin_list_user_auth_events(UserPoolId=pool_id, Username=name)["AuthEvents"]
        streamed = sorted(receiver.calls, key=lambda call: call["event"]["authEvent"]["CreationDate"], reverse=True)
        for call, event in zip(streamed, listed):
            assert call["verified_with"] == [receiver.secret]
            assert call["path"] == "/audit"
            message = call["event"]
            assert message["userPoolId"] == pool_id and message["userName"] == name
            assert message["authEvent"]["EventId"] == event["EventId"]
            assert message["authEvent"]["EventResponse"] == event["EventResponse"]
            assert message["feedbackToken"]
        assert not receiver.failures, receiver.failures

        # The user answers "that was not me" for the failed sign-in with its token, without
        # credentials (UpdateAuthEventFeedback is unsigned, as in Cognito).
        failed = next(call["event"] for call in streamed if call["event"]["authEvent"]["EventResponse"] == "Fail")
        passed = next(call["event"] for call in streamed if call["event"]["authEvent"]["EventResponse"] == "Pass")
        event_id, token = failed["authEvent"]["EventId"], failed["feedbackToken"]

        def feedback(**overrides):
            request = dict(
                UserPoolId=pool_id, Username=name, EventId=event_id, FeedbackToken=token, FeedbackValue="Invalid"
            )
            request.update(overrides)
            return public.update_auth_event_feedback(**request)

        # Another event's token, a token changed by one character, and a user that does not
        # exist are all refused alike, and record nothing.
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        for overrides in ({"FeedbackToken": passed["feedbackToken"]}, {"FeedbackToken": tampered}, {"Username": unique("nobody")}):
            expect_error("NotAuthorizedException", feedback, **overrides)
        assert all("EventFeedback" not in e for e in idp.admin_list_user_auth_events(UserPoolId=pool_id, Username=name)["AuthEvents"])
        assert feedback()["ResponseMetadata"]["HTTPStatusCode"] == 200
        events = {e["EventId"]: e for e in idp.admin_list_user_auth_events(UserPoolId=pool_id, Username=name)["AuthEvents"]}
        given = events[event_id]["EventFeedback"]
        assert given["FeedbackValue"] == "Invalid" and given["Provider"] == "User", given
        assert "EventFeedback" not in events[passed["authEvent"]["EventId"]]
    finally:
        receiver.stop()
