//! One trace per challenge across the four processes: the services export
//! to an in-process OTLP receiver, and the spans of one challenge must share
//! one trace id, come from every service and hang off each other the way
//! the request flowed (gateway -> track -> infer -> decode).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use support::cluster::{Cluster, ClusterOptions};
use support::{fixture, signed};
use sv_tests::otlp::{CollectedSpan, OtlpReceiver};

fn find<'a>(spans: &'a [CollectedSpan], service: &str, name: &str) -> Result<&'a CollectedSpan> {
    spans
        .iter()
        .find(|s| s.service == service && s.name == name)
        .with_context(|| {
            let seen: Vec<_> = spans
                .iter()
                .map(|s| format!("{}/{}", s.service, s.name))
                .collect();
            format!("no span {service}/{name} among {seen:?}")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_challenge_is_one_trace_across_four_processes() -> Result<()> {
    let receiver = OtlpReceiver::start().await?;
    let cluster = Cluster::start(ClusterOptions {
        transport: "inline",
        env: [(
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
            receiver.endpoint.clone(),
        )]
        .into(),
    })
    .await?;
    let clip = std::fs::read(fixture("clip/sample_720p.mp4"))?;
    let videos =
        sv_tests::http::serve_files(HashMap::from([("/clip.mp4".to_string(), clip)])).await?;
    let reply = signed::challenge(
        cluster.gateway_http,
        &format!("http://{videos}/clip.mp4"),
        "traced",
    )
    .await?;
    assert_eq!(reply.status, 200, "{reply:?}");
    let id = reply.body["challenge_id"]
        .as_str()
        .context("challenge id")?
        .to_string();

    let of_challenge = |spans: &[CollectedSpan]| -> Vec<CollectedSpan> {
        spans
            .iter()
            .filter(|s| s.attributes.get("challenge_id") == Some(&id))
            .cloned()
            .collect()
    };
    let wanted = [
        ("scorevision-gateway", "challenge"),
        ("scorevision-gateway", "authenticate"),
        ("scorevision-gateway", "assemble"),
        ("scorevision-track", "track"),
        ("scorevision-infer", "infer"),
        ("scorevision-infer", "infer_batch"),
        ("scorevision-decode", "decode"),
        ("scorevision-decode", "download"),
    ];
    let spans = receiver
        .wait_for(
            |spans| {
                let mine = of_challenge(spans);
                wanted.iter().all(|(service, name)| {
                    mine.iter()
                        .any(|s| s.service == *service && s.name == *name)
                })
            },
            Duration::from_secs(60),
        )
        .await;
    let spans = of_challenge(&spans);

    let root = find(&spans, "scorevision-gateway", "challenge")?;
    for span in &spans {
        assert_eq!(span.trace_id, root.trace_id, "{span:?} is in another trace");
    }
    let parent_of = |service: &str, name: &str, parent: &CollectedSpan| -> Result<()> {
        let span = find(&spans, service, name)?;
        anyhow::ensure!(
            span.parent_span_id == parent.span_id,
            "{service}/{name} hangs off {} instead of {}/{}",
            span.parent_span_id,
            parent.service,
            parent.name
        );
        Ok(())
    };
    parent_of("scorevision-gateway", "authenticate", root)?;
    parent_of("scorevision-gateway", "assemble", root)?;
    parent_of("scorevision-track", "track", root)?;
    let track = find(&spans, "scorevision-track", "track")?;
    parent_of("scorevision-infer", "infer", track)?;
    let infer = find(&spans, "scorevision-infer", "infer")?;
    parent_of("scorevision-infer", "infer_batch", infer)?;
    parent_of("scorevision-decode", "decode", infer)?;
    let decode = find(&spans, "scorevision-decode", "decode")?;
    parent_of("scorevision-decode", "download", decode)?;
    // Every batch of the clip is its own span: 50 frames in batches of <= 4.
    let batches = spans.iter().filter(|s| s.name == "infer_batch").count();
    assert!(batches >= 13, "{batches} batch spans for 50 frames");
    drop(cluster);
    Ok(())
}
