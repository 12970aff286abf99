//! The stage traits: how a stage asks its upstream for a stream.
//!
//! Each method returns the stream at once; failures (including "could not
//! connect") arrive as an `Err` item, after which the stream ends. Dropping
//! the stream cancels the work upstream: nothing keeps decoding for a caller
//! that left. The traits are object safe so the binary can choose an
//! in-process or a remote upstream at run time.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::Stream;

use crate::{Frame, FrameDetections, FrameTracks, StageError};

/// W3C trace context (`traceparent`, `tracestate`) carried with a request so
/// one trace spans every process that works on a challenge.
pub type TraceContext = BTreeMap<String, String>;

/// One challenge's video, as every stage sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRequest {
    /// The validator's id for the challenge; every stage logs and traces
    /// under it.
    pub challenge_id: String,
    /// A local path, `file://`, `http://` or `https://` URL.
    pub video_url: String,
    /// The caller's trace context, empty when there is none; each stage
    /// continues its trace from it.
    pub trace: TraceContext,
}

impl VideoRequest {
    /// A request with no trace context.
    pub fn new(challenge_id: impl Into<String>, video_url: impl Into<String>) -> Self {
        Self {
            challenge_id: challenge_id.into(),
            video_url: video_url.into(),
            trace: TraceContext::new(),
        }
    }
}

/// What [`FrameSource::frames`] returns: decoded frames, or one error that
/// ends the stream.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, StageError>> + Send>>;
/// What [`DetectionSource::detect`] returns: one item per frame, or one
/// error that ends the stream.
pub type DetectionStream = Pin<Box<dyn Stream<Item = Result<FrameDetections, StageError>> + Send>>;
/// What [`TrackSource::track`] returns: one item per frame, or one error
/// that ends the stream.
pub type TrackStream = Pin<Box<dyn Stream<Item = Result<FrameTracks, StageError>> + Send>>;

/// Decoded frames of a video, in order, each exactly once.
pub trait FrameSource: Send + Sync + 'static {
    /// Starts decoding `request`'s video; dropping the stream stops it.
    fn frames(&self, request: VideoRequest) -> FrameStream;
}

/// Per-frame detections and pitch keypoints, in frame order.
pub trait DetectionSource: Send + Sync + 'static {
    /// Starts detecting on `request`'s video; dropping the stream stops it.
    fn detect(&self, request: VideoRequest) -> DetectionStream;
}

/// Per-frame tracked objects and pitch keypoints, in frame order.
pub trait TrackSource: Send + Sync + 'static {
    /// Starts tracking on `request`'s video; dropping the stream stops it.
    fn track(&self, request: VideoRequest) -> TrackStream;
}

impl<T: FrameSource + ?Sized> FrameSource for std::sync::Arc<T> {
    fn frames(&self, request: VideoRequest) -> FrameStream {
        (**self).frames(request)
    }
}

impl<T: DetectionSource + ?Sized> DetectionSource for std::sync::Arc<T> {
    fn detect(&self, request: VideoRequest) -> DetectionStream {
        (**self).detect(request)
    }
}

impl<T: TrackSource + ?Sized> TrackSource for std::sync::Arc<T> {
    fn track(&self, request: VideoRequest) -> TrackStream {
        (**self).track(request)
    }
}
