//! Span export and W3C propagation, end to end through a real OTLP/gRPC
//! exporter into the in-process receiver. Each "process" is its own layer
//! stack with its own tracer provider and service name, scoped with
//! `with_default`; nothing installs a global subscriber.
//!
//! Multi-threaded runtimes: `force_flush` blocks the test thread while the
//! receiver answers the export on another.

use std::collections::BTreeMap;
use std::time::Duration;

use sv_telemetry::{
    LogFormat, TelemetryConfig, TelemetryGuard, build, extract_metadata, inject_metadata,
    inject_span, install_propagator, set_parent,
};
use sv_tests::otlp::{CollectedSpan, OtlpReceiver};
use tonic::metadata::MetadataMap;

/// Guards against hangs only; spans arrive as soon as the flush returns.
const PATIENCE: Duration = Duration::from_secs(30);

fn config(service: &str, endpoint: &str) -> TelemetryConfig {
    TelemetryConfig::new(LogFormat::Plain, "info", service).with_otlp_endpoint(endpoint)
}

/// A simulated process: a layer stack exporting as `service`.
fn process(
    service: &str,
    receiver: &OtlpReceiver,
) -> (
    impl tracing::Subscriber + Send + Sync + 'static,
    TelemetryGuard,
) {
    let (subscriber, guard) = build(&config(service, &receiver.endpoint)).expect("build");
    assert!(guard.otel_enabled());
    (subscriber, guard)
}

fn named<'a>(spans: &'a [CollectedSpan], name: &str) -> &'a CollectedSpan {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "spans named {name:?} in {spans:#?}");
    found[0]
}

fn has_all(names: &'static [&'static str]) -> impl Fn(&[CollectedSpan]) -> bool {
    move |spans| names.iter().all(|n| spans.iter().any(|s| s.name == *n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_with_service_name_and_attributes() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let (subscriber, guard) = process("scorevision-gateway", &receiver);
    tracing::subscriber::with_default(subscriber, || {
        let challenge = tracing::info_span!("challenge", challenge_id = "c-42", frames = 50u64);
        let _entered = challenge.enter();
        tracing::info_span!("assemble", objects = 3u64).in_scope(|| {});
    });
    guard.force_flush().expect("flush");

    let spans = receiver
        .wait_for(has_all(&["challenge", "assemble"]), PATIENCE)
        .await;
    let challenge = named(&spans, "challenge");
    let assemble = named(&spans, "assemble");
    assert_eq!(challenge.service, "scorevision-gateway");
    assert_eq!(challenge.attributes["challenge_id"], "c-42");
    assert_eq!(challenge.attributes["frames"], "50");
    assert_eq!(challenge.parent_span_id, "");
    assert_eq!(assemble.attributes["objects"], "3");
    assert_eq!(assemble.trace_id, challenge.trace_id);
    assert_eq!(assemble.parent_span_id, challenge.span_id);
    assert_eq!(challenge.trace_id.len(), 32);
    assert_eq!(challenge.span_id.len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_processes_through_the_trace_map() {
    install_propagator();
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let (gateway, gateway_guard) = process("scorevision-gateway", &receiver);
    let (track, track_guard) = process("scorevision-track", &receiver);

    // What a streamed message's `trace` field carries between stages.
    let mut trace = BTreeMap::new();
    tracing::subscriber::with_default(gateway, || {
        let span = tracing::info_span!("gateway.challenge", challenge_id = "c-1");
        inject_span(&span, &mut trace);
    });
    assert!(trace.contains_key("traceparent"), "carrier {trace:?}");
    tracing::subscriber::with_default(track, || {
        let span = tracing::info_span!("track.stream", challenge_id = "c-1");
        set_parent(&span, &trace);
        span.in_scope(|| {});
    });
    gateway_guard.force_flush().expect("flush gateway");
    track_guard.force_flush().expect("flush track");

    let spans = receiver
        .wait_for(has_all(&["gateway.challenge", "track.stream"]), PATIENCE)
        .await;
    let parent = named(&spans, "gateway.challenge");
    let child = named(&spans, "track.stream");
    assert_eq!(parent.service, "scorevision-gateway");
    assert_eq!(child.service, "scorevision-track");
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, parent.span_id);
    assert_eq!(parent.parent_span_id, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_processes_through_grpc_metadata() {
    install_propagator();
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let (infer, infer_guard) = process("scorevision-infer", &receiver);
    let (decode, decode_guard) = process("scorevision-decode", &receiver);

    let mut outgoing = MetadataMap::new();
    tracing::subscriber::with_default(infer, || {
        let span = tracing::info_span!("infer.detect");
        inject_metadata(&span, &mut outgoing);
    });
    // As the server sees it: rebuilt from HTTP/2 headers.
    let incoming = MetadataMap::from_headers(outgoing.into_headers());
    let carrier = extract_metadata(&incoming);
    assert!(carrier.contains_key("traceparent"), "carrier {carrier:?}");
    tracing::subscriber::with_default(decode, || {
        let span = tracing::info_span!("decode.frames");
        set_parent(&span, &carrier);
        span.in_scope(|| {});
    });
    infer_guard.force_flush().expect("flush infer");
    decode_guard.force_flush().expect("flush decode");

    let spans = receiver
        .wait_for(has_all(&["infer.detect", "decode.frames"]), PATIENCE)
        .await;
    let parent = named(&spans, "infer.detect");
    let child = named(&spans, "decode.frames");
    assert_eq!(parent.service, "scorevision-infer");
    assert_eq!(child.service, "scorevision-decode");
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, parent.span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_are_no_ops_without_otel() {
    install_propagator();
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let (exporting, exporting_guard) = process("scorevision-gateway", &receiver);
    let (logs_only, logs_guard) = build(&TelemetryConfig::new(
        LogFormat::Plain,
        "info",
        "scorevision",
    ))
    .expect("build");
    assert!(!logs_guard.otel_enabled());

    let mut trace = BTreeMap::new();
    tracing::subscriber::with_default(exporting, || {
        inject_span(&tracing::info_span!("gateway.challenge"), &mut trace);
    });
    assert!(trace.contains_key("traceparent"));

    tracing::subscriber::with_default(logs_only, || {
        let span = tracing::info_span!("track.stream");
        set_parent(&span, &trace);
        let mut map = BTreeMap::new();
        inject_span(&span, &mut map);
        let mut metadata = MetadataMap::new();
        inject_metadata(&span, &mut metadata);
        assert!(map.is_empty(), "wrote {map:?}");
        assert!(metadata.is_empty(), "wrote {metadata:?}");
        span.in_scope(|| {});
    });
    logs_guard.force_flush().expect("no-op flush");
    exporting_guard.force_flush().expect("flush");

    let spans = receiver
        .wait_for(has_all(&["gateway.challenge"]), PATIENCE)
        .await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["gateway.challenge"], "the logs-only span leaked");
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` unset there is no exporter at all: in
/// particular none falling back to the OTLP default, localhost:4317.
#[test]
fn no_endpoint_means_no_exporter_and_no_connection() {
    let env = |key: &str| (key == "OTEL_SERVICE_NAME").then(|| "scorevision-track".to_owned());
    let config = TelemetryConfig::from_lookup(LogFormat::Json, "info", "scorevision", env);
    assert_eq!(config.otlp_endpoint, None);
    assert_eq!(config.service_name, "scorevision-track");

    // Watch the default OTLP port when it is free; a busy port leaves the
    // structural checks below.
    let watch = std::net::TcpListener::bind("127.0.0.1:4317").ok();
    let (subscriber, guard) = build(&config).expect("build");
    assert!(!guard.otel_enabled());
    assert!(guard.tracer_provider().is_none());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("challenge").in_scope(|| tracing::info!("Challenge answered."));
    });
    guard.force_flush().expect("no-op flush");
    drop(guard);
    if let Some(listener) = watch {
        listener.set_nonblocking(true).expect("nonblocking");
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("something connected to the default OTLP port: {other:?}"),
        }
    }
}
