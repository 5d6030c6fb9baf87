"""Issue 16: `GET /metrics` in Prometheus's text format, read by Prometheus's own parser
(prometheus_client.parser), with counters that move as the requests made here say: requests by
API, operation and outcome with their latency histogram, sign-in failures and lockouts, the
read cache's hits, and the database connection pools. A server of its own, so that no other
test's requests are counted."""

from __future__ import annotations

import botocore.exceptions
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import HTTP_TIMEOUT, PASSWORD, App, unique

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


@pytest.fixture(scope="module")
def node(module_factory):
    return module_factory.start(name="metrics")


def scrape(node) -> dict[tuple[str, tuple], float]:
    """Every sample, by name and sorted labels; the parser must read the whole document."""
    resp = requests.get(node.url + "/metrics", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_of(samples, operation: str, outcome: str) -> float:
    return value(samples, "tessera_requests_total", api="cognito-idp", operation=operation, outcome=outcome)


def test_issue16_metrics_move_with_the_requests(node):
    app = App.create(node, client={"ExplicitAuthFlows": FLOWS})
    name = unique("metered")
    app.idp.admin_create_user(UserPoolId=app.pool_id, Username=name, MessageAction="SUPPRESS")
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username=name, Password=PASSWORD, Permanent=True)
    tokens = app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]

    before = scrape(node)
    for _ in range(5):
        app.public.get_user(AccessToken=tokens["AccessToken"])
    with pytest.raises(botocore.exceptions.ClientError):
        app.public.get_user(AccessToken=tokens["AccessToken"][:-4] + "AAAA")
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError):
            app.public.initiate_auth(
                ClientId=app.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": name, "PASSWORD": "Wrong-passw0rd"},
            )
    after = scrape(node)

    assert requests_of(after, "GetUser", "ok") - requests_of(before, "GetUser", "ok") == 5
    assert requests_of(after, "GetUser", "NotAuthorizedException") - requests_of(before, "GetUser", "NotAuthorizedException") == 1
    assert (
        requests_of(after, "InitiateAuth", "NotAuthorizedException")
        - requests_of(before, "InitiateAuth", "NotAuthorizedException")
        == 2
    )
    # The latency histogram counted the same requests, in buckets.
    histogram = dict(api="cognito-idp", operation="GetUser")
    assert value(after, "tessera_request_duration_seconds_count", **histogram) - value(
        before, "tessera_request_duration_seconds_count", **histogram
    ) == 6
    assert value(after, "tessera_request_duration_seconds_bucket", le="+Inf", **histogram) == value(
        after, "tessera_request_duration_seconds_count", **histogram
    )
    assert value(after, "tessera_sign_in_failures_total") - value(before, "tessera_sign_in_failures_total") == 2
    # Five GetUsers of one user: the pool, client, user, groups and session come from memory.
    assert value(after, "tessera_read_cache_hits_total") - value(before, "tessera_read_cache_hits_total") >= 5
    assert value(after, "tessera_read_cache_serving") == 1
    for pool in ("durable", "transient"):
        assert value(after, "tessera_db_connections", pool=pool, state="open") >= 1


def test_issue16_lockouts_are_counted(node):
    app = App.create(node, client={"ExplicitAuthFlows": FLOWS})
    name = unique("locked")
    app.idp.admin_create_user(UserPoolId=app.pool_id, Username=name, MessageAction="SUPPRESS")
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username=name, Password=PASSWORD, Permanent=True)
    before = scrape(node)
    messages = []
    for _ in range(8):
        try:
            app.public.initiate_auth(
                ClientId=app.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": name, "PASSWORD": "Wrong-passw0rd"},
            )
        except botocore.exceptions.ClientError as exc:
            messages.append(exc.response["Error"]["Message"])
    after = scrape(node)
    locked = messages.count("Password attempts exceeded")
    assert locked >= 1, messages
    assert value(after, "tessera_sign_in_lockouts_total") - value(before, "tessera_sign_in_lockouts_total") == locked
    assert value(after, "tessera_sign_in_failures_total") - value(before, "tessera_sign_in_failures_total") == 8 - locked


def test_issue16_the_token_endpoint_is_counted(node):
    app = App.create(node, client={"ExplicitAuthFlows": FLOWS})
    before = scrape(node)
    resp = requests.post(
        f"{node.url}/{app.pool_id}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, "not-the-secret"),
        timeout=HTTP_TIMEOUT,
    )
    assert resp.status_code in (400, 401)
    after = scrape(node)
    outcome = resp.json()["error"]
    key = dict(api="oauth2", operation="token", outcome=outcome)
    assert value(after, "tessera_requests_total", **key) - value(before, "tessera_requests_total", **key) == 1


def test_issue16_the_grafana_dashboard_queries_only_what_tessera_records():
    """packaging/grafana-dashboard.json: every metric a panel queries is one tessera records
    (a name in its sources), so a renamed metric cannot leave the dashboard empty."""
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "packaging" / "grafana-dashboard.json").read_text())
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"tessera_[a-z_]+", target["expr"]):
                queried.add(re.sub(r"_(bucket|count|sum)$", "", name))
    recorded = set()
    for source in (root / "crates").rglob("*.rs"):
        recorded.update(re.findall(r'"(tessera_[a-z_]+)"', source.read_text()))
    assert queried, "the dashboard queries nothing"
    assert queried <= recorded, queried - recorded
