//! W3C trace context across process boundaries, through whatever propagator
//! is installed globally ([`install_propagator`] installs W3C TraceContext).
//!
//! The in-band carrier is a plain `BTreeMap<String, String>` (the
//! `TraceContext` every streamed message carries); tonic metadata and HTTP
//! headers convert to and from it. Every helper is a no-op when spans are not
//! exported: no OpenTelemetry layer means no context to write, and nothing to
//! attach a remote parent to.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, global};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Installs the W3C TraceContext propagator process-wide. `init` calls it;
/// idempotent.
pub fn install_propagator() {
    global::set_text_map_propagator(TraceContextPropagator::new());
}

/// Writes `span`'s trace context (`traceparent`, `tracestate`) into `carrier`.
/// Writes nothing when the span is not exported.
pub fn inject_span(span: &tracing::Span, carrier: &mut BTreeMap<String, String>) {
    let Some(cx) = exported_context(span) else {
        return;
    };
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut MapInjector(carrier)));
}

/// Makes the remote context in `carrier` the parent of `span`. Call it right
/// after creating the span, before entering it or opening children: after
/// that the span's identity is fixed. A carrier without a valid context
/// leaves the span's local parent alone.
pub fn set_parent(span: &tracing::Span, carrier: &BTreeMap<String, String>) {
    let cx = global::get_text_map_propagator(|p| p.extract(&MapExtractor(carrier)));
    if !cx.span().span_context().is_valid() {
        return;
    }
    if let Err(e) = span.set_parent(cx) {
        // Without the OpenTelemetry layer (or for a disabled span) there is
        // nothing to parent; anything else is a call-order bug worth seeing.
        if matches!(e, tracing_opentelemetry::SetParentError::AlreadyStarted) {
            tracing::debug!(error = %e, "Remote trace parent ignored.");
        }
    }
}

/// Makes `span` this process's part of a request's trace, the one way every
/// stage (and the gateway) does it: its parent is the caller's context in
/// `carrier` (the request's in-band trace map), and `carrier` then carries
/// `span`'s own context, so whatever the request is passed on to joins
/// `span`. Call it on a span just created. Without exported spans the
/// carrier is left as it came, so a caller's context still reaches the
/// stages.
pub fn stage_span(span: tracing::Span, carrier: &mut BTreeMap<String, String>) -> tracing::Span {
    set_parent(&span, carrier);
    inject_span(&span, carrier);
    span
}

/// Copies the trace-context entries of `carrier` into gRPC request
/// metadata, where tracing-aware proxies and collectors look for them
/// (the message carries them too).
pub fn carrier_to_metadata(carrier: &BTreeMap<String, String>, metadata: &mut MetadataMap) {
    let mut injector = MetadataInjector(metadata);
    for field in propagator_fields() {
        if let Some(value) = carrier.get(&field) {
            injector.set(&field, value.clone());
        }
    }
}

/// Writes `span`'s trace context into gRPC request or response metadata.
pub fn inject_metadata(span: &tracing::Span, metadata: &mut MetadataMap) {
    let Some(cx) = exported_context(span) else {
        return;
    };
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut MetadataInjector(metadata)));
}

/// The trace-context entries of gRPC metadata, ready for [`set_parent`] or a
/// message's trace map. Only the propagator's own fields are copied, so
/// credentials and other metadata never leak into the trace map.
pub fn extract_metadata(metadata: &MetadataMap) -> BTreeMap<String, String> {
    propagator_fields()
        .into_iter()
        .filter_map(|field| {
            let value = metadata.get(field.as_str())?.to_str().ok()?;
            Some((field, value.to_owned()))
        })
        .collect()
}

/// The trace-context entries of HTTP request headers (axum).
pub fn extract_headers(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    propagator_fields()
        .into_iter()
        .filter_map(|field| {
            let value = headers.get(field.as_str())?.to_str().ok()?;
            Some((field, value.to_owned()))
        })
        .collect()
}

/// `span`'s OpenTelemetry context, when it has a real (exported) span.
fn exported_context(span: &tracing::Span) -> Option<Context> {
    let cx = span.context();
    cx.span().span_context().is_valid().then_some(cx)
}

/// Header names the global propagator reads and writes, lower-case.
fn propagator_fields() -> Vec<String> {
    global::get_text_map_propagator(|p| p.fields().map(str::to_ascii_lowercase).collect())
}

struct MapInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_ascii_lowercase(), value);
    }
}

struct MapExtractor<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(&key.to_ascii_lowercase()).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Propagator fields are valid ASCII header names and values; skip
        // rather than panic should a custom propagator ever disagree.
        let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) else {
            return;
        };
        self.0.insert(key, value);
    }
}
