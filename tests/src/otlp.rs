//! An in-process OTLP/gRPC trace collector for tests: a tonic
//! `TraceService` on `127.0.0.1:0` that keeps every span it is sent, flattened
//! into [`CollectedSpan`]s, so a test can assert on what a real exporter sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use tokio::sync::{Notify, oneshot};
use tokio_stream::wrappers::TcpListenerStream;

/// One exported span, with ids in lower-case hex as W3C `traceparent` writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedSpan {
    /// The `service.name` resource attribute of the process that sent it.
    pub service: String,
    /// The name of the tracing span it came from, e.g. `challenge`.
    pub name: String,
    /// 32 hex digits, shared by every span of one challenge.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// `""` for a root span.
    pub parent_span_id: String,
    /// Span attributes, values rendered as strings.
    pub attributes: BTreeMap<String, String>,
}

/// A running collector; stops when dropped.
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT`, ready for an OTLP/gRPC exporter.
    pub endpoint: String,
    store: Arc<Store>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Store {
    spans: Mutex<Vec<CollectedSpan>>,
    arrived: Notify,
}

impl OtlpReceiver {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the OTLP test receiver")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let store = Arc::new(Store::default());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(Collector(Arc::clone(&store)));
        tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                eprintln!("OTLP test receiver stopped: {e}");
            }
        });
        Ok(Self {
            endpoint,
            store,
            shutdown: Some(shutdown),
        })
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<CollectedSpan> {
        self.store.snapshot()
    }

    /// Waits until `pred` holds for the spans received so far, or `timeout`
    /// passes; returns the spans either way so the caller's assertion shows
    /// what did arrive.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&[CollectedSpan]) -> bool,
        timeout: Duration,
    ) -> Vec<CollectedSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register for the next arrival before looking, so none is missed.
            let arrived = self.store.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let spans = self.spans();
            if pred(&spans) {
                return spans;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.spans();
            }
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Store {
    fn snapshot(&self) -> Vec<CollectedSpan> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Collector(Arc<Store>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let collected = flatten(request.into_inner());
        self.0
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(collected);
        self.0.arrived.notify_waiters();
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<CollectedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .map(|r| attributes(r.attributes))
            .and_then(|mut attrs| attrs.remove("service.name"))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                out.push(CollectedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex::encode(span.trace_id),
                    span_id: hex::encode(span.span_id),
                    parent_span_id: hex::encode(span.parent_span_id),
                    attributes: attributes(span.attributes),
                });
            }
        }
    }
    out
}

fn attributes(kvs: Vec<KeyValue>) -> BTreeMap<String, String> {
    kvs.into_iter()
        .map(|kv| (kv.key, kv.value.map(render).unwrap_or_default()))
        .collect()
}

fn render(value: AnyValue) -> String {
    match value.value {
        None => String::new(),
        Some(Value::StringValue(s)) => s,
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex::encode(b),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.into_iter().map(render).collect();
            format!("[{}]", items.join(","))
        }
        Some(Value::KvlistValue(l)) => {
            let items: Vec<String> = l
                .values
                .into_iter()
                .map(|kv| format!("{}={}", kv.key, kv.value.map(render).unwrap_or_default()))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}
