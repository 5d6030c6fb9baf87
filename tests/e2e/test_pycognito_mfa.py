"""pycognito (the Python client many apps use) through tessera's multi-factor sign-in, on both
backends, with nothing but pycognito's own methods on the user's side:

- enrolment with the access token: `associate_software_token()`, `verify_software_token(code,
  device_name)` (a wrong code refused), `set_user_mfa_preference(...)` turning the token on as
  the preferred factor;
- `authenticate(password)`, which is always SRP in pycognito, raising
  `SoftwareTokenMFAChallengeException`, answered with `respond_to_software_token_mfa_challenge`
  from the same object and, with the exception's tokens, from a new one; a wrong and a replayed
  code refused with Cognito's errors; pycognito then verifies the tokens itself against the
  pool's JWKS and issuer, so a passing sign-in proves they are valid;
- the same with a client secret (SECRET_HASH in the MFA answer) and in a pool whose usernames
  are e-mail addresses, where pycognito answers with the address it was given rather than the
  internal username tessera named in USER_ID_FOR_SRP;
- SMS: `SMSMFAChallengeException` with the CODE_DELIVERY_* parameters, answered with
  `respond_to_sms_mfa_challenge` and the code read from the development outbox;
- turning MFA off again with `set_user_mfa_preference(False, False)`.

pycognito's `admin_authenticate` (ADMIN_NO_SRP_AUTH) reads `AuthenticationResult` from the
answer without looking for a challenge, so it has no MFA path to test; it is used here only to
sign in users who have no factor on yet.

Software-token codes are time-based: `Authenticator.code()` hands out codes of increasing steps
(tessera accepts the step before and after its own, each step once per user) with at least ten
seconds left in the current step.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito
from pycognito.exceptions import SMSMFAChallengeException, SoftwareTokenMFAChallengeException

from helpers import PASSWORD, attribute_dict, attribute_list, read_outbox, unique

FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
SMS = {
    "SmsMfaConfiguration": {
        "SmsAuthenticationMessage": "Your MFA code is {####}",
        "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "e2e"},
    }
}


class Authenticator:
    """The user's authenticator app: pyotp over the secret tessera handed out."""

    def __init__(self, secret: str):
        self.totp = pyotp.TOTP(secret)
        self.last = -1

    def code(self) -> str:
        """The code of the earliest step tessera accepts now that this user has not used."""
        while True:
            now = time.time()
            left = 30 - now % 30
            current = int(now // 30)
            step = max(self.last + 1, current - 1)
            if left < 10 or step > current + 1:
                time.sleep(left + 0.2)
                continue
            self.last = step
            return self.totp.at(step * 30)

    def wrong(self) -> str:
        """A six-digit code that none of the steps around now produces."""
        now = time.time()
        near = {self.totp.at(now + 30 * d) for d in range(-2, 3)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


class MfaPool:
    """A pool with MFA as told, its client and the pycognito objects of its users."""

    def __init__(self, server, idp, mode: str, *factors: dict, secret: bool = False, **pool_kwargs):
        self.server = server
        self.idp = idp
        self.pool = idp.create_user_pool(PoolName=unique("pycognito-mfa"), **pool_kwargs)["UserPool"]
        self.pool_id = self.pool["Id"]
        config = {}
        for factor in factors:
            config.update(factor)
        idp.set_user_pool_mfa_config(UserPoolId=self.pool_id, MfaConfiguration=mode, **config)
        self.client = idp.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="py",
            ExplicitAuthFlows=FLOWS,
            PreventUserExistenceErrors="ENABLED",
            GenerateSecret=secret,
        )["UserPoolClient"]

    def user(self, username: str, **attributes: str) -> str:
        """A CONFIRMED user; returns the name tessera gave it (the internal username)."""
        self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            MessageAction="SUPPRESS",
            UserAttributes=attribute_list(attributes),
        )
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=PASSWORD, Permanent=True)
        return self.idp.admin_get_user(UserPoolId=self.pool_id, Username=username)["Username"]

    def cognito(self, username: str, admin: bool = False) -> Cognito:
        """What an app makes: pycognito pointed at tessera by endpoint only (with the root key for
        the admin flow)."""
        kwargs = {}
        if admin:
            kwargs["access_key"], kwargs["secret_key"] = self.server.root_credentials()
        return Cognito(
            self.pool_id,
            self.client["ClientId"],
            username=username,
            client_secret=self.client.get("ClientSecret"),
            boto3_client_kwargs={"endpoint_url": self.server.url, "region_name": "us-east-1"},
            **kwargs,
        )

    def stored(self, username: str) -> dict:
        return self.idp.admin_get_user(UserPoolId=self.pool_id, Username=username)

    def delete(self) -> None:
        self.idp.delete_user_pool(UserPoolId=self.pool_id)


@pytest.fixture
def mfa_pool(server, idp):
    made: list[MfaPool] = []

    def make(mode: str, *factors: dict, **kwargs) -> MfaPool:
        made.append(MfaPool(server, idp, mode, *factors, **kwargs))
        return made[-1]

    yield make
    for pool in made:
        try:
            pool.delete()
        except Exception:
            pass


def client_error(fn, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as info:
        fn(*args, **kwargs)
    return info.value.response["Error"]


def enrol(session: Cognito, device_name: str) -> Authenticator:
    """pycognito's enrolment of a signed-in user: associate, verify (a wrong code first), then
    the token on and preferred."""
    secret = session.associate_software_token()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    authenticator = Authenticator(secret)
    error = client_error(session.verify_software_token, authenticator.wrong(), device_name)
    assert error == {
        "Code": "EnableSoftwareTokenMFAException",
        "Message": "Code mismatch and fail enable Software Token MFA",
    }
    assert session.verify_software_token(authenticator.code(), device_name) is True
    session.set_user_mfa_preference(sms_mfa=False, software_token_mfa=True, preferred="SOFTWARE_TOKEN")
    return authenticator


def software_token_challenge(session: Cognito) -> dict:
    with pytest.raises(SoftwareTokenMFAChallengeException) as info:
        session.authenticate(password=PASSWORD)
    assert session.access_token is None, "no tokens before the second factor"
    tokens = info.value.get_tokens()
    assert tokens["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert tokens["Session"]
    assert session.mfa_tokens == tokens
    return tokens


def test_software_token_enrolment_and_srp_sign_in(server, mfa_pool):
    app = mfa_pool("OPTIONAL", TOTP)
    username = app.user(unique("ada"), email="ada@example.com", email_verified="true")

    # No factor yet: the SRP sign-in gives tokens at once, which pycognito verified.
    session = app.cognito(username)
    session.authenticate(password=PASSWORD)
    assert session.access_claims["username"] == username
    authenticator = enrol(session, "Ada's phone")
    stored = app.stored(username)
    assert stored["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert stored["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"

    challenged = app.cognito(username)
    tokens = software_token_challenge(challenged)
    assert tokens["ChallengeParameters"] == {"FRIENDLY_DEVICE_NAME": "Ada's phone", "USER_ID_FOR_SRP": username}
    error = client_error(challenged.respond_to_software_token_mfa_challenge, authenticator.wrong())
    assert error == {"Code": "CodeMismatchException", "Message": "Invalid code received for user"}
    code = authenticator.code()
    challenged.respond_to_software_token_mfa_challenge(code)
    assert challenged.id_claims["cognito:username"] == username
    assert challenged.id_claims["iss"] == f"{server.url}/{app.pool_id}"
    assert challenged.access_claims["client_id"] == app.client["ClientId"]
    assert challenged.refresh_token
    assert challenged.get_user().email == "ada@example.com"

    # A new object answers with the tokens the exception carried; the code just used is a replay.
    first = app.cognito(username)
    tokens = software_token_challenge(first)
    later = app.cognito(username)
    error = client_error(later.respond_to_software_token_mfa_challenge, code, mfa_tokens=tokens)
    assert error == {"Code": "ExpiredCodeException", "Message": "Your software token has already been used once."}
    later.respond_to_software_token_mfa_challenge(authenticator.code(), mfa_tokens=tokens)
    assert later.access_claims["username"] == username
    # The session answered once.
    error = client_error(later.respond_to_software_token_mfa_challenge, authenticator.wrong(), mfa_tokens=tokens)
    assert error == {"Code": "NotAuthorizedException", "Message": "Invalid session for the user."}

    # Both factors off: the next sign-in gives tokens at once again.
    later.set_user_mfa_preference(sms_mfa=False, software_token_mfa=False)
    assert "UserMFASettingList" not in app.stored(username)
    plain = app.cognito(username)
    plain.authenticate(password=PASSWORD)
    assert plain.access_claims["username"] == username


def test_client_secret_and_email_usernames(mfa_pool):
    app = mfa_pool("OPTIONAL", TOTP, secret=True, UsernameAttributes=["email"])
    email = f"{unique('grace')}@example.com"
    internal = app.user(email, email=email, email_verified="true")
    assert internal != email, "the internal username of an e-mail pool is not the address"

    # ADMIN_NO_SRP_AUTH for the first sign-in (no factor on yet), with SECRET_HASH.
    session = app.cognito(email, admin=True)
    session.admin_authenticate(password=PASSWORD)
    assert session.access_claims["username"] == internal
    authenticator = enrol(session, "")
    assert app.stored(email)["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

    challenged = app.cognito(email)
    tokens = software_token_challenge(challenged)
    assert tokens["ChallengeParameters"]["USER_ID_FOR_SRP"] == internal
    # pycognito answers with the address it was given (and a SECRET_HASH over it).
    challenged.respond_to_software_token_mfa_challenge(authenticator.code())
    assert challenged.id_claims["email"] == email
    assert challenged.id_claims["cognito:username"] == internal


def test_sms_code(server, mfa_pool):
    app = mfa_pool("OPTIONAL", TOTP, SMS)
    phone = "+15555550123"
    username = app.user(unique("alan"), email="alan@example.com", email_verified="true", phone_number=phone)
    session = app.cognito(username)
    session.authenticate(password=PASSWORD)
    session.set_user_mfa_preference(sms_mfa=True, software_token_mfa=False, preferred="SMS")
    stored = app.stored(username)
    assert stored["UserMFASettingList"] == ["SMS_MFA"] and stored["PreferredMfaSetting"] == "SMS_MFA"

    before = len(read_outbox(server, pool_id=app.pool_id, username=username))
    challenged = app.cognito(username)
    with pytest.raises(SMSMFAChallengeException) as info:
        challenged.authenticate(password=PASSWORD)
    tokens = info.value.get_tokens()
    assert tokens["ChallengeName"] == "SMS_MFA"
    assert tokens["ChallengeParameters"] == {
        "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
        "CODE_DELIVERY_DESTINATION": "+*******0123",
        "USER_ID_FOR_SRP": username,
    }
    messages = read_outbox(server, pool_id=app.pool_id, username=username)
    assert len(messages) == before + 1
    assert messages[-1]["channel"] == "SMS" and messages[-1]["destination"] == phone
    found = re.fullmatch(r"Your MFA code is (\d{6})", messages[-1]["body"])
    assert found, messages[-1]
    code = found.group(1)

    error = client_error(challenged.respond_to_sms_mfa_challenge, "000000" if code != "000000" else "111111")
    assert error == {"Code": "CodeMismatchException", "Message": "Invalid code or auth state for the user."}
    challenged.respond_to_sms_mfa_challenge(code)
    assert challenged.id_claims["cognito:username"] == username
    assert challenged.access_claims["username"] == username
    # A phone number that answered an SMS code is verified.
    assert attribute_dict(app.stored(username)["UserAttributes"])["phone_number_verified"] == "true"
