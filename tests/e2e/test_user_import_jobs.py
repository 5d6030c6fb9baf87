"""Issue 16: user import jobs through boto3, as Cognito runs them. GetCSVHeader gives the
columns (Cognito's documented 21, then the pool's custom attributes); CreateUserImportJob hands
out a pre-signed URL that takes the CSV with an HTTP PUT (the `curl -T … -H
x-amz-server-side-encryption:aws:kms` of Cognito's guide); StartUserImportJob imports the rows
in the background: users RESET_REQUIRED, a row without a true auto-verified attribute failed,
an existing user skipped, a backslash-escaped comma kept. With PasswordHashingAlgorithm BCRYPT
and a cognito:password_hash column the users are CONFIRMED and sign in with their old
passwords. Stop, list (newest first, paginated) and the refusals follow."""

from __future__ import annotations

import time

import bcrypt
import botocore.exceptions
import pytest
import requests

from helpers import HTTP_TIMEOUT, App, unique

ROLE = "arn:aws:iam::000000000000:role/CognitoImportRole"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
DOCUMENTED_HEADER = [
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile",
    "picture", "website", "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale",
    "phone_number", "phone_number_verified", "address", "updated_at", "cognito:mfa_enabled",
    "cognito:username",
]


def new_app(server) -> App:
    return App.create(
        server,
        client={"ExplicitAuthFlows": FLOWS},
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "team", "AttributeDataType": "String", "Mutable": True}],
    )


def error_code(call) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    return err.value.response["Error"]["Code"]


def upload(url: str, body: str) -> requests.Response:
    return requests.put(
        url, data=body.encode(), headers={"x-amz-server-side-encryption": "aws:kms", "Content-Type": "text/csv"}, timeout=HTTP_TIMEOUT
    )


def row(header: list[str], values: dict) -> str:
    return ",".join(values.get(column, "") for column in header)


def finished(app: App, job_id: str, within: float = 30) -> dict:
    deadline = time.monotonic() + within
    while True:
        job = app.idp.describe_user_import_job(UserPoolId=app.pool_id, JobId=job_id)["UserImportJob"]
        if job["Status"] not in ("Pending", "InProgress") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_issue16_a_csv_import_job_creates_users_as_cognito_does(server):
    app = new_app(server)
    header = app.idp.get_csv_header(UserPoolId=app.pool_id)
    assert header["UserPoolId"] == app.pool_id
    columns = header["CSVHeader"]
    assert columns[: len(DOCUMENTED_HEADER)] == DOCUMENTED_HEADER and columns[len(DOCUMENTED_HEADER):] == ["custom:team"], columns

    existing = unique("existing")
    app.create_user(existing, {"email": f"{existing}@example.com"})
    job = app.idp.create_user_import_job(JobName="first import", UserPoolId=app.pool_id, CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert job["Status"] == "Created" and job["JobId"].startswith("import-") and job["CloudWatchLogsRoleArn"] == ROLE
    assert (job["ImportedUsers"], job["SkippedUsers"], job["FailedUsers"]) == (0, 0, 0)
    assert "StartDate" not in job and "CompletionDate" not in job
    # Nothing uploaded yet: the job cannot start.
    assert error_code(lambda: app.idp.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])) == "PreconditionNotMetException"

    names = [unique("csv") for _ in range(3)]
    lines = [",".join(columns)]
    for i, name in enumerate(names):
        lines.append(row(columns, {
            "cognito:username": name, "email": f"{name}@example.com", "email_verified": "TRUE",
            "cognito:mfa_enabled": "FALSE", "name": "Smith\\, Jane" if i == 0 else f"User {i}", "custom:team": "blue",
        }))
    unverified = unique("unverified")
    lines.append(row(columns, {"cognito:username": unverified, "email": f"{unverified}@example.com", "email_verified": "FALSE", "cognito:mfa_enabled": "FALSE"}))
    lines.append(row(columns, {"cognito:username": existing, "email": f"{existing}@example.com", "email_verified": "TRUE", "cognito:mfa_enabled": "FALSE"}))
    csv = "\n".join(lines) + "\n"
    assert upload(job["PreSignedUrl"].replace("token=", "token=x"), csv).status_code == 403
    resp = upload(job["PreSignedUrl"], csv)
    assert resp.status_code == 200, resp.text

    started = app.idp.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] == "Pending" and "StartDate" in started
    # Once started, the URL takes no other file and the job does not start twice.
    assert upload(job["PreSignedUrl"], csv).status_code == 403
    assert error_code(lambda: app.idp.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])) == "PreconditionNotMetException"
    done = finished(app, job["JobId"])
    assert done["Status"] == "Succeeded", done
    assert (done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (3, 1, 1), done
    assert "CompletionDate" in done

    first = app.get(names[0])
    assert first["UserStatus"] == "RESET_REQUIRED" and first["Enabled"]
    attrs = {a["Name"]: a["Value"] for a in first["UserAttributes"]}
    assert attrs["name"] == "Smith, Jane" and attrs["email_verified"] == "true" and attrs["custom:team"] == "blue"
    assert error_code(lambda: app.get(unverified)) == "UserNotFoundException"
    # An imported user must reset the password first, as in Cognito.
    err = error_code(lambda: app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": names[1], "PASSWORD": "Whatever-1"}
    ))
    assert err == "PasswordResetRequiredException"
    assert error_code(lambda: app.idp.stop_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])) == "PreconditionNotMetException"


def test_issue16_an_import_job_with_bcrypt_hashes_signs_users_in(server):
    app = new_app(server)
    columns = app.idp.get_csv_header(UserPoolId=app.pool_id)["CSVHeader"] + ["cognito:password_hash"]
    job = app.idp.create_user_import_job(
        JobName="hashes", UserPoolId=app.pool_id, CloudWatchLogsRoleArn=ROLE, PasswordHashingAlgorithm="BCRYPT"
    )["UserImportJob"]
    assert job["PasswordHashingAlgorithm"] == "BCRYPT"
    name, password = unique("hashed"), "Old-bcrypt-Passw0rd!"
    wrong = unique("wrong-scheme")
    lines = [
        ",".join(columns),
        row(columns, {"cognito:username": name, "email": f"{name}@example.com", "email_verified": "true", "cognito:mfa_enabled": "false",
                      "cognito:password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(6)).decode()}),
        row(columns, {"cognito:username": wrong, "email": f"{wrong}@example.com", "email_verified": "true", "cognito:mfa_enabled": "false",
                      "cognito:password_hash": "pbkdf2_sha256$1000$salt$nNQH9HOajnuqDJP/Aofn+wtS3Nxmk1PrIWzoOT7ePDg="}),
    ]
    assert upload(job["PreSignedUrl"], "\n".join(lines)).status_code == 200
    app.idp.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])
    done = finished(app, job["JobId"])
    assert (done["Status"], done["ImportedUsers"], done["FailedUsers"]) == ("Succeeded", 1, 1), done
    assert app.get(name)["UserStatus"] == "CONFIRMED"
    tokens = app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": password}
    )["AuthenticationResult"]
    assert app.public.get_user(AccessToken=tokens["AccessToken"])["Username"] == name


def test_issue16_import_jobs_list_newest_first_and_stop(server):
    app = new_app(server)
    ids = [
        app.idp.create_user_import_job(JobName=f"job {i}", UserPoolId=app.pool_id, CloudWatchLogsRoleArn=ROLE)["UserImportJob"]["JobId"]
        for i in range(3)
    ]
    page = app.idp.list_user_import_jobs(UserPoolId=app.pool_id, MaxResults=2)
    assert [j["JobId"] for j in page["UserImportJobs"]] == ids[::-1][:2]
    rest = app.idp.list_user_import_jobs(UserPoolId=app.pool_id, MaxResults=2, PaginationToken=page["PaginationToken"])
    assert [j["JobId"] for j in rest["UserImportJobs"]] == ids[:1] and "PaginationToken" not in rest
    # A job that never started cannot be stopped; an unknown one is not found.
    assert error_code(lambda: app.idp.stop_user_import_job(UserPoolId=app.pool_id, JobId=ids[0])) == "PreconditionNotMetException"
    assert error_code(lambda: app.idp.describe_user_import_job(UserPoolId=app.pool_id, JobId="import-nothing")) == "ResourceNotFoundException"
    assert error_code(lambda: app.idp.get_csv_header(UserPoolId="us-east-1_Nothing00")) == "ResourceNotFoundException"

    # A large file, stopped while it runs: what it imported stays, and it ends Stopped.
    columns = app.idp.get_csv_header(UserPoolId=app.pool_id)["CSVHeader"]
    prefix = unique("bulk")
    lines = [",".join(columns)] + [
        row(columns, {"cognito:username": f"{prefix}-{i}", "email": f"{prefix}-{i}@example.com", "email_verified": "TRUE", "cognito:mfa_enabled": "FALSE"})
        for i in range(3000)
    ]
    job = app.idp.create_user_import_job(JobName="bulk", UserPoolId=app.pool_id, CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert upload(job["PreSignedUrl"], "\n".join(lines)).status_code == 200
    app.idp.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])
    stopped = app.idp.stop_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert stopped["Status"] == "Stopped" and stopped["CompletionMessage"] == "The Import Job was stopped by the developer."
    time.sleep(1)
    later = app.idp.describe_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert later["Status"] == "Stopped" and later["ImportedUsers"] < 3000, later
