//! [`Envelope`]: what the three streamed message types have in common (a
//! header, then an item or the explicit end), so one sender and one receiver
//! serve every stage.

use crate::v1::{
    DetectionMessage, EndOfStream, FrameMessage, StreamHeader, TrackMessage, detection_message,
    frame_message, track_message,
};

/// The body of one streamed message.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<T> {
    /// One item of the stream (a frame, or one frame's detections or tracks).
    Item(T),
    /// The explicit end, with the number of items sent, so a receiver can
    /// tell a complete stream from one cut short.
    End(EndOfStream),
}

/// A streamed message type: `FrameMessage`, `DetectionMessage` or `TrackMessage`.
pub trait Envelope: Send + Sized + 'static {
    /// The wire item it carries (`v1::Frame`, ...).
    type Item: Send + 'static;
    /// The message carrying `header` and `body`.
    fn wrap(header: StreamHeader, body: Body<Self::Item>) -> Self;
    /// The message's header and body; either is `None` when a (broken)
    /// sender left it out, which the receiver reports.
    fn open(self) -> (Option<StreamHeader>, Option<Body<Self::Item>>);
}

macro_rules! envelope {
    ($message:ty, $module:ident, $variant:ident, $item:ty) => {
        impl Envelope for $message {
            type Item = $item;

            fn wrap(header: StreamHeader, body: Body<$item>) -> Self {
                Self {
                    header: Some(header),
                    body: Some(match body {
                        Body::Item(item) => $module::Body::$variant(item),
                        Body::End(end) => $module::Body::End(end),
                    }),
                }
            }

            fn open(self) -> (Option<StreamHeader>, Option<Body<$item>>) {
                let body = self.body.map(|body| match body {
                    $module::Body::$variant(item) => Body::Item(item),
                    $module::Body::End(end) => Body::End(end),
                });
                (self.header, body)
            }
        }
    };
}

envelope!(FrameMessage, frame_message, Frame, crate::v1::Frame);
envelope!(
    DetectionMessage,
    detection_message,
    Detections,
    crate::v1::FrameDetections
);
envelope!(TrackMessage, track_message, Tracks, crate::v1::FrameTracks);
