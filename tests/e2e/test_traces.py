"""Issue 16: OpenTelemetry traces behind a flag. With `--otlp-endpoint`, every request's span is
exported over OTLP/HTTP (protobuf, decoded here with the OpenTelemetry project's own
opentelemetry-proto) to `<endpoint>/v1/traces`: named `request`, with the HTTP method, path and
status, the API operation (`rpc.method`) and its outcome, the service named `tessera`, and a
child of the caller's W3C `traceparent` when one is sent. Without the flag nothing is exported."""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.exceptions
import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from helpers import HTTP_TIMEOUT


class Collector:
    """A minimal OTLP/HTTP trace receiver on loopback."""

    def __init__(self):
        self.spans: list[tuple[dict, object]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                assert self.path == "/v1/traces", self.path
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with collector.lock:
                    for resource_spans in request.resource_spans:
                        resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                        for scope in resource_spans.scope_spans:
                            for span in scope.spans:
                                collector.spans.append((resource, span))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def find(self, check, within: float = 15):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                for resource, span in self.spans:
                    attributes = {a.key: (a.value.string_value or a.value.int_value) for a in span.attributes}
                    if check(span, attributes):
                        return resource, span, attributes
            time.sleep(0.1)
        pytest.fail(f"no such span among {len(self.spans)}")

    def close(self):
        self.server.shutdown()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def call(server, target: str, body: dict, headers: dict | None = None) -> requests.Response:
    return requests.post(
        server.url,
        data=json.dumps(body),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}", **(headers or {})},
        timeout=HTTP_TIMEOUT,
    )


def test_issue16_requests_are_exported_as_opentelemetry_spans(server_factory, collector):
    server = server_factory.start(
        name="traces", extra_args=["--otlp-endpoint", collector.url], env={"OTEL_BSP_SCHEDULE_DELAY": "100"}
    )
    server.client().list_user_pools(MaxResults=5)
    resource, span, attributes = collector.find(lambda s, a: a.get("rpc.method") == "ListUserPools")
    assert span.name == "request"
    assert resource["service.name"] == "tessera"
    assert attributes["http.request.method"] == "POST" and attributes["url.path"] == "/"
    assert attributes["http.response.status_code"] == 200 and attributes["tessera.outcome"] == "ok"
    assert attributes["request_id"]

    # A refusal carries its exception; a caller's traceparent makes the span its child.
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    resp = call(
        server,
        "InitiateAuth",
        {"ClientId": "nosuchclient0000000000000", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "a", "PASSWORD": "b"}},
        {"traceparent": f"00-{trace_id}-{parent_id}-01"},
    )
    assert resp.status_code == 400
    _, child, attributes = collector.find(lambda s, a: s.trace_id.hex() == trace_id)
    assert child.parent_span_id.hex() == parent_id
    assert attributes["rpc.method"] == "InitiateAuth"
    assert attributes["tessera.outcome"] == "ResourceNotFoundException"
    assert attributes["http.response.status_code"] == 400
    # The request id the client saw is the span's.
    assert attributes["request_id"] == resp.headers["x-amzn-requestid"]


def test_issue16_no_spans_are_exported_without_the_flag(server_factory, collector):
    server = server_factory.start(name="no-traces", env={"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url})
    server.client().list_user_pools(MaxResults=5)
    with pytest.raises(botocore.exceptions.ClientError):
        server.client().describe_user_pool(UserPoolId="us-east-1_Nothing00")
    server.stop()
    assert collector.spans == []
