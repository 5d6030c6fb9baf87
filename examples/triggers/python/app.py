"""A Cognito trigger handler for tessera's webhook target, with FastAPI.

    pip install -r requirements.txt
    TESSERA_WEBHOOK_SECRET=whsec_... uvicorn app:app --port 8000

and point a `[[triggers]]` table at `http://127.0.0.1:8000/cognito` with the same secret.
tessera POSTs the Cognito event, signed as Standard Webhooks says; this handler answers
200 with the event (its `response` filled in), or fails the trigger with a non-2xx status
and `{"errorMessage": ...}`, which the Cognito API call reports as
UserLambdaValidationException.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["TESSERA_WEBHOOK_SECRET"])
BLOCKED_DOMAIN = os.environ.get("BLOCKED_DOMAIN", "blocked.example").lower()
CLAIMS = {"tenant": "acme"}

app = FastAPI()


class TriggerError(Exception):
    """Fails the trigger, like `throw new Error(message)` in a Lambda function."""


@app.post("/cognito")
async def cognito(request: Request) -> JSONResponse:
    body = await request.body()  # the raw bytes: the signature covers them exactly
    try:
        webhook.verify(body, request.headers, json_parse=False)
    except WebhookVerificationError:
        return JSONResponse({"message": "invalid signature"}, status_code=401)
    event = json.loads(body)
    try:
        return JSONResponse(handle(event))
    except TriggerError as error:
        return JSONResponse({"errorMessage": str(error)}, status_code=400)


def handle(event: dict) -> dict:
    source = event["triggerSource"]
    response = event.get("response") or {}
    event["response"] = response
    if source == "PreSignUp_SignUp":
        email = event["request"]["userAttributes"].get("email")
        if email and email.rsplit("@", 1)[-1].lower() == BLOCKED_DOMAIN:
            raise TriggerError("Registration from this domain is not allowed.")
        response["autoConfirmUser"] = True
        if email:
            response["autoVerifyEmail"] = True
    elif source.startswith("TokenGeneration_"):
        if event.get("version") != "1":
            # PreTokenGeneration V2/V3: both tokens.
            response["claimsAndScopeOverrideDetails"] = {
                "idTokenGeneration": {"claimsToAddOrOverride": dict(CLAIMS)},
                "accessTokenGeneration": {"claimsToAddOrOverride": dict(CLAIMS)},
            }
        else:
            # V1: the ID token only.
            response["claimsOverrideDetails"] = {"claimsToAddOrOverride": dict(CLAIMS)}
    # Every other trigger: the event unchanged.
    return event
