//! Conversions between wire messages and `sv_core` types, in one place.

use sv_core::{
    Detection, Frame, FrameDetections, FrameTracks, Keypoint, PixelFormat, TrackedObject,
    VideoRequest,
};

use crate::v1;

/// A message that does not describe a valid core value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {message}: {why}")]
pub struct ConvertError {
    /// The message type that is malformed, e.g. "Frame".
    pub message: &'static str,
    /// What is wrong with it.
    pub why: String,
}

fn malformed(message: &'static str, why: impl Into<String>) -> ConvertError {
    ConvertError {
        message,
        why: why.into(),
    }
}

impl From<VideoRequest> for v1::VideoRequest {
    fn from(r: VideoRequest) -> Self {
        Self {
            challenge_id: r.challenge_id,
            video_url: r.video_url,
            trace: r.trace.into_iter().collect(),
        }
    }
}

impl From<v1::VideoRequest> for VideoRequest {
    fn from(r: v1::VideoRequest) -> Self {
        Self {
            challenge_id: r.challenge_id,
            video_url: r.video_url,
            trace: r.trace.into_iter().collect(),
        }
    }
}

impl From<PixelFormat> for v1::PixelFormat {
    fn from(f: PixelFormat) -> Self {
        match f {
            PixelFormat::Rgb8 => Self::Rgb8,
            PixelFormat::Nv12 => Self::Nv12,
        }
    }
}

/// Frames with inline pixels. Shared-memory frames are resolved by the
/// transport that owns the ring before conversion.
impl From<Frame> for v1::Frame {
    fn from(f: Frame) -> Self {
        Self {
            index: f.index,
            pts_ns: f.pts_ns,
            source_width: f.source_width,
            source_height: f.source_height,
            format: v1::PixelFormat::from(f.format) as i32,
            width: f.width,
            height: f.height,
            stride: f.stride,
            pixels: Some(v1::frame::Pixels::Data(f.data)),
        }
    }
}

impl TryFrom<v1::Frame> for Frame {
    type Error = ConvertError;
    fn try_from(f: v1::Frame) -> Result<Self, ConvertError> {
        let format = match v1::PixelFormat::try_from(f.format) {
            Ok(v1::PixelFormat::Rgb8) => PixelFormat::Rgb8,
            Ok(v1::PixelFormat::Nv12) => PixelFormat::Nv12,
            _ => {
                return Err(malformed(
                    "Frame",
                    format!("unknown pixel format {}", f.format),
                ));
            }
        };
        let data = match f.pixels {
            Some(v1::frame::Pixels::Data(data)) => data,
            Some(v1::frame::Pixels::Shared(_)) => {
                return Err(malformed("Frame", "shared-memory slot not resolved"));
            }
            None => return Err(malformed("Frame", "no pixels")),
        };
        let frame = Frame {
            index: f.index,
            pts_ns: f.pts_ns,
            source_width: f.source_width,
            source_height: f.source_height,
            format,
            width: f.width,
            height: f.height,
            stride: f.stride,
            data,
        };
        if frame.data.len() < frame.expected_len() {
            return Err(malformed(
                "Frame",
                format!(
                    "{} bytes for a {}x{} frame",
                    frame.data.len(),
                    f.width,
                    f.height
                ),
            ));
        }
        Ok(frame)
    }
}

fn keypoints_to_wire(keypoints: &Option<Vec<Keypoint>>) -> (Vec<f32>, bool) {
    match keypoints {
        Some(k) => (
            k.iter().flat_map(|k| [k.x, k.y, k.confidence]).collect(),
            true,
        ),
        None => (Vec::new(), false),
    }
}

fn keypoints_from_wire(
    message: &'static str,
    values: &[f32],
    has_pitch: bool,
) -> Result<Option<Vec<Keypoint>>, ConvertError> {
    if !values.len().is_multiple_of(3) {
        return Err(malformed(
            message,
            "keypoints are not (x, y, confidence) triples",
        ));
    }
    Ok(has_pitch.then(|| {
        values
            .chunks_exact(3)
            .map(|k| Keypoint {
                x: k[0],
                y: k[1],
                confidence: k[2],
            })
            .collect()
    }))
}

fn boxes(
    message: &'static str,
    values: &[f32],
    count: usize,
) -> Result<Vec<[f32; 4]>, ConvertError> {
    if values.len() != count * 4 {
        return Err(malformed(
            message,
            format!("{} box values for {count} objects", values.len()),
        ));
    }
    Ok(values
        .chunks_exact(4)
        .map(|b| [b[0], b[1], b[2], b[3]])
        .collect())
}

impl From<FrameDetections> for v1::FrameDetections {
    fn from(d: FrameDetections) -> Self {
        let (keypoints, has_pitch) = keypoints_to_wire(&d.keypoints);
        Self {
            index: d.index,
            boxes: d.detections.iter().flat_map(|d| d.bbox).collect(),
            confidences: d.detections.iter().map(|d| d.confidence).collect(),
            class_ids: d.detections.iter().map(|d| d.class_id).collect(),
            keypoints,
            has_pitch,
            between_keyframes: d.between_keyframes,
        }
    }
}

impl TryFrom<v1::FrameDetections> for FrameDetections {
    type Error = ConvertError;
    fn try_from(d: v1::FrameDetections) -> Result<Self, ConvertError> {
        const M: &str = "FrameDetections";
        let n = d.confidences.len();
        if d.class_ids.len() != n {
            return Err(malformed(M, "confidences and class ids differ in length"));
        }
        let detections = boxes(M, &d.boxes, n)?
            .into_iter()
            .zip(d.confidences.iter().zip(&d.class_ids))
            .map(|(bbox, (&confidence, &class_id))| Detection {
                bbox,
                confidence,
                class_id,
            })
            .collect();
        if d.between_keyframes && (n > 0 || d.has_pitch) {
            return Err(malformed(M, "a frame between keyframes carries detections"));
        }
        Ok(Self {
            index: d.index,
            detections,
            keypoints: keypoints_from_wire(M, &d.keypoints, d.has_pitch)?,
            between_keyframes: d.between_keyframes,
        })
    }
}

impl From<FrameTracks> for v1::FrameTracks {
    fn from(t: FrameTracks) -> Self {
        let (keypoints, has_pitch) = keypoints_to_wire(&t.keypoints);
        Self {
            index: t.index,
            track_ids: t.objects.iter().map(|o| o.id).collect(),
            boxes: t.objects.iter().flat_map(|o| o.bbox).collect(),
            class_ids: t.objects.iter().map(|o| o.class_id).collect(),
            keypoints,
            has_pitch,
        }
    }
}

impl TryFrom<v1::FrameTracks> for FrameTracks {
    type Error = ConvertError;
    fn try_from(t: v1::FrameTracks) -> Result<Self, ConvertError> {
        const M: &str = "FrameTracks";
        let n = t.track_ids.len();
        if t.class_ids.len() != n {
            return Err(malformed(M, "track ids and class ids differ in length"));
        }
        let objects = boxes(M, &t.boxes, n)?
            .into_iter()
            .zip(t.track_ids.iter().zip(&t.class_ids))
            .map(|(bbox, (&id, &class_id))| TrackedObject { id, bbox, class_id })
            .collect();
        Ok(Self {
            index: t.index,
            objects,
            keypoints: keypoints_from_wire(M, &t.keypoints, t.has_pitch)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detections_round_trip() {
        let d = FrameDetections {
            index: 9,
            detections: vec![Detection {
                bbox: [1.0, 2.0, 3.0, 4.0],
                confidence: 0.5,
                class_id: 2,
            }],
            keypoints: Some(vec![
                Keypoint {
                    x: 0.0,
                    y: 0.0,
                    confidence: 0.2
                };
                32
            ]),
            between_keyframes: false,
        };
        assert_eq!(
            FrameDetections::try_from(v1::FrameDetections::from(d.clone())).unwrap(),
            d
        );
        let none = FrameDetections {
            index: 0,
            detections: vec![],
            keypoints: None,
            between_keyframes: false,
        };
        assert_eq!(
            FrameDetections::try_from(v1::FrameDetections::from(none.clone())).unwrap(),
            none
        );
        // A frame between keyframes is its index and the mark, nothing else.
        let between = FrameDetections::between(7);
        let wire = v1::FrameDetections::from(between.clone());
        assert!(wire.between_keyframes && wire.boxes.is_empty() && !wire.has_pitch);
        assert_eq!(FrameDetections::try_from(wire).unwrap(), between);
        let mut claims_boxes = v1::FrameDetections::from(d);
        claims_boxes.between_keyframes = true;
        assert!(FrameDetections::try_from(claims_boxes).is_err());
    }

    #[test]
    fn tracks_round_trip_and_reject_ragged_boxes() {
        let t = FrameTracks {
            index: 1,
            objects: vec![TrackedObject {
                id: 4,
                bbox: [5.0, 6.0, 7.0, 8.0],
                class_id: 1,
            }],
            keypoints: None,
        };
        let mut wire = v1::FrameTracks::from(t.clone());
        assert_eq!(FrameTracks::try_from(wire.clone()).unwrap(), t);
        wire.boxes.pop();
        assert!(FrameTracks::try_from(wire).is_err());
    }

    #[test]
    fn frames_round_trip_and_reject_short_pixels() {
        let f = Frame::rgb(3, 2, 2, vec![7u8; 12].into());
        let wire = v1::Frame::from(f.clone());
        assert_eq!(Frame::try_from(wire.clone()).unwrap(), f);
        let mut short = wire;
        short.pixels = Some(v1::frame::Pixels::Data(vec![0u8; 5].into()));
        assert!(Frame::try_from(short).is_err());
    }
}
