//! Unit tests across the crate that need no collector: layer stack
//! construction, and propagation with and without the OpenTelemetry layer.
//! The export round trip to a real OTLP receiver lives in sv-tests.

use std::collections::BTreeMap;

use tonic::metadata::MetadataMap;

use crate::{
    LogFormat, TelemetryConfig, TelemetryError, build, carrier_to_metadata, extract_headers,
    extract_metadata, inject_metadata, inject_span, install_propagator, set_parent, stage_span,
};

const REMOTE_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn logs_only() -> TelemetryConfig {
    TelemetryConfig::new(LogFormat::Plain, "info", "sv-telemetry-test")
}

/// An endpoint nobody listens on: export fails, but nothing before export
/// may notice, because the channel connects lazily.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// Parses `00-<trace id>-<span id>-<flags>`.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {traceparent:?}");
    assert_eq!(parts[1].len(), 32, "trace id in {traceparent:?}");
    assert_eq!(parts[2].len(), 16, "span id in {traceparent:?}");
    (parts[1].to_owned(), parts[2].to_owned())
}

#[test]
fn without_an_endpoint_nothing_is_exported_and_helpers_do_nothing() {
    install_propagator();
    let (subscriber, guard) = build(&logs_only()).expect("build");
    assert!(!guard.otel_enabled());
    assert!(guard.tracer_provider().is_none());

    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("challenge", challenge_id = 7);
        let mut carrier = BTreeMap::new();
        inject_span(&span, &mut carrier);
        assert!(carrier.is_empty(), "wrote {carrier:?}");

        let mut metadata = MetadataMap::new();
        inject_metadata(&span, &mut metadata);
        assert!(metadata.is_empty(), "wrote {metadata:?}");

        // A valid remote parent has nothing to attach to: no panic, no effect.
        let remote = BTreeMap::from([("traceparent".to_owned(), REMOTE_PARENT.to_owned())]);
        set_parent(&span, &remote);
        inject_span(&span, &mut carrier);
        assert!(carrier.is_empty(), "wrote {carrier:?}");
    });
    guard.force_flush().expect("flush is a no-op");
}

#[test]
fn a_bad_filter_is_a_config_error() {
    let mut config = logs_only();
    config.filter = "info,=[".to_owned();
    assert!(matches!(build(&config), Err(TelemetryError::Filter { .. })));
}

#[test]
fn a_bad_endpoint_is_a_config_error() {
    let config = logs_only().with_otlp_endpoint("not a uri at all");
    assert!(matches!(
        build(&config),
        Err(TelemetryError::Exporter { .. })
    ));
}

#[test]
fn context_crosses_two_providers_through_the_map() {
    install_propagator();
    let (gateway, gateway_guard) =
        build(&logs_only().with_otlp_endpoint(dead_endpoint())).expect("build gateway");
    let (track, track_guard) =
        build(&logs_only().with_otlp_endpoint(dead_endpoint())).expect("build track");
    assert!(gateway_guard.otel_enabled() && track_guard.otel_enabled());

    let mut carrier = BTreeMap::new();
    tracing::subscriber::with_default(gateway, || {
        let span = tracing::info_span!("gateway.challenge");
        inject_span(&span, &mut carrier);
    });
    let parent = carrier.get("traceparent").expect("traceparent written");
    let (trace_id, parent_span) = ids(parent);

    let mut child_carrier = BTreeMap::new();
    tracing::subscriber::with_default(track, || {
        let span = tracing::info_span!("track.stream");
        set_parent(&span, &carrier);
        inject_span(&span, &mut child_carrier);
    });
    let (child_trace, child_span) = ids(&child_carrier["traceparent"]);
    assert_eq!(child_trace, trace_id);
    assert_ne!(child_span, parent_span);
}

#[test]
fn a_stage_span_joins_the_carrier_s_trace_and_passes_its_own_on() {
    install_propagator();
    let (stage, _guard) = build(&logs_only().with_otlp_endpoint(dead_endpoint())).expect("build");
    let mut carrier = BTreeMap::from([("traceparent".to_owned(), REMOTE_PARENT.to_owned())]);
    tracing::subscriber::with_default(stage, || {
        let _span = stage_span(tracing::info_span!("infer"), &mut carrier);
    });
    let (trace_id, span_id) = ids(&carrier["traceparent"]);
    let (remote_trace, remote_span) = ids(REMOTE_PARENT);
    assert_eq!(trace_id, remote_trace, "the caller's trace");
    assert_ne!(span_id, remote_span, "the stage's own span is passed on");

    // Without exported spans the caller's context goes on untouched.
    let (logs, _guard) = build(&logs_only()).expect("build");
    let mut untouched = BTreeMap::from([("traceparent".to_owned(), REMOTE_PARENT.to_owned())]);
    tracing::subscriber::with_default(logs, || {
        let _span = stage_span(tracing::info_span!("track"), &mut untouched);
    });
    assert_eq!(untouched["traceparent"], REMOTE_PARENT);

    // The metadata copy takes the propagator's fields only.
    let mut with_secret = untouched.clone();
    with_secret.insert("authorization".to_owned(), "secret".to_owned());
    let mut metadata = MetadataMap::new();
    carrier_to_metadata(&with_secret, &mut metadata);
    assert_eq!(extract_metadata(&metadata), untouched);
    assert!(metadata.get("authorization").is_none());
}

#[test]
fn an_empty_carrier_keeps_the_local_parent() {
    install_propagator();
    let (subscriber, _guard) =
        build(&logs_only().with_otlp_endpoint(dead_endpoint())).expect("build");
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("outer");
        let _entered = outer.enter();
        let inner = tracing::info_span!("inner");
        set_parent(&inner, &BTreeMap::new());
        let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
        inject_span(&outer, &mut a);
        inject_span(&inner, &mut b);
        assert_eq!(ids(&a["traceparent"]).0, ids(&b["traceparent"]).0);
    });
}

#[test]
fn only_trace_context_is_extracted_from_metadata_and_headers() {
    install_propagator();
    let mut metadata = MetadataMap::new();
    metadata.insert("traceparent", REMOTE_PARENT.parse().expect("ascii"));
    metadata.insert("tracestate", "vendor=1".parse().expect("ascii"));
    metadata.insert("authorization", "Bearer secret".parse().expect("ascii"));
    let from_grpc = extract_metadata(&metadata);

    let mut headers = http::HeaderMap::new();
    headers.insert("TraceParent", REMOTE_PARENT.parse().expect("ascii"));
    headers.insert("tracestate", "vendor=1".parse().expect("ascii"));
    headers.insert("cookie", "session=1".parse().expect("ascii"));
    let from_http = extract_headers(&headers);

    let expected = BTreeMap::from([
        ("traceparent".to_owned(), REMOTE_PARENT.to_owned()),
        ("tracestate".to_owned(), "vendor=1".to_owned()),
    ]);
    assert_eq!(from_grpc, expected);
    assert_eq!(from_http, expected);
}
