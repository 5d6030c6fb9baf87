//! Prometheus metrics (issue 16): what is recorded, and `GET /metrics` in the text format.
//!
//! The recorder is the `metrics` facade's, exported by metrics-exporter-prometheus. The binary
//! installs it once ([`install`]); without it (the unit tests) every recording is a no-op. What
//! the store counts on its hot paths (read-cache hits and misses) is kept in its own atomics
//! and copied in, with the database pool's gauges, when `/metrics` is read.
//!
//! Labels are bounded: an operation is a name of the service model (or `unknown`), an outcome
//! `ok` or an error type of the model's. No pool id, user or client is ever a label.

use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Request latency buckets, in seconds: from a cached GetUser to a slow trigger.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder; call once, from the binary.
pub fn install() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// Records one request: its API, operation and outcome, and how long it took. Every label is
/// a static name, so recording allocates nothing.
pub(crate) fn request(
    api: &'static str,
    operation: &'static str,
    outcome: &'static str,
    started: Instant,
) {
    let span = tracing::Span::current();
    span.record("rpc.system", "aws-api");
    span.record("rpc.service", api);
    span.record("rpc.method", operation);
    span.record("tessera.outcome", outcome);
    metrics::counter!(
        "tessera_requests_total",
        "api" => api,
        "operation" => operation,
        "outcome" => outcome,
    )
    .increment(1);
    metrics::histogram!(
        "tessera_request_duration_seconds",
        "api" => api,
        "operation" => operation,
    )
    .record(started.elapsed().as_secs_f64());
}

/// `GET /metrics`: Prometheus's text format. Not authenticated, as scrape targets usually are
/// not; it names no pool, user or client.
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = state.metrics.as_ref() else {
        return (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response();
    };
    let store = state.store();
    let cache = store.read_cache_stats();
    metrics::counter!("tessera_read_cache_hits_total").absolute(cache.hits);
    metrics::counter!("tessera_read_cache_misses_total").absolute(cache.misses);
    metrics::gauge!("tessera_read_cache_serving").set(if store.read_cache_serving() {
        1.0
    } else {
        0.0
    });
    for (pool, connections) in store.connection_stats() {
        metrics::gauge!("tessera_db_connections", "pool" => pool, "state" => "open")
            .set(f64::from(connections.open));
        metrics::gauge!("tessera_db_connections", "pool" => pool, "state" => "idle")
            .set(f64::from(connections.idle));
    }
    handle.run_upkeep();
    let mut response = (StatusCode::OK, handle.render()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Makes `span` a child of the caller's W3C `traceparent` (through the propagator the binary
/// installs when it exports traces; without one this does nothing).
pub(crate) fn follow_caller(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|value| value.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(axum::http::HeaderName::as_str).collect()
        }
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(headers))
    });
    let _ = span.set_parent(parent);
}
