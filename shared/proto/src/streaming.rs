//! Streams over the wire, both ends.
//!
//! [`respond`] turns a stage's stream into the messages its server sends:
//! consecutive sequence numbers, the trace context in every header, an
//! explicit end with the item count, or a status when the stage fails.
//! [`receive`] checks all of that on the client side, so a cut connection,
//! a reordered or a foreign message is an error and never a short result.

use futures::{Stream, StreamExt};
use sv_core::{ErrorKind, StageError, TraceContext};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::envelope::{Body, Envelope};
use crate::status::{from_status, to_status};
use crate::v1::{EndOfStream, StreamHeader};

/// Messages queued per stream before the producer waits: the bounded
/// channel is the backpressure between a stage and the network.
pub const STREAM_DEPTH: usize = 8;

/// How long a client may leave a full stream unread before the stage stops
/// working for it. A stage reads its upstream as fast as it can use it, so
/// a minute without taking a message is a client that stopped reading (or
/// never meant to): its upstream work is dropped instead of held.
pub const CLIENT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// What every message of one stream is stamped with.
#[derive(Debug, Clone)]
pub struct StreamStamp {
    /// The challenge the stream answers, checked by the receiver.
    pub challenge_id: String,
    /// The trace context, so each stage's spans join the challenge's trace.
    pub trace: TraceContext,
}

impl StreamStamp {
    fn header(&self, sequence: u64) -> StreamHeader {
        StreamHeader {
            challenge_id: self.challenge_id.clone(),
            sequence,
            trace: self.trace.clone().into_iter().collect(),
        }
    }
}

/// Spawns the task that forwards `items` to the client as messages. It stops
/// as soon as the client goes away (a failed send) or leaves the stream
/// unread for [`CLIENT_PATIENCE`]; dropping `items` then cancels the work
/// upstream.
pub fn respond<E, S>(items: S, stamp: StreamStamp) -> ReceiverStream<Result<E, Status>>
where
    E: Envelope,
    S: Stream<Item = Result<E::Item, StageError>> + Send + 'static,
{
    respond_with_patience(items, stamp, CLIENT_PATIENCE)
}

/// [`respond`] with another patience for an unread stream (tests).
pub fn respond_with_patience<E, S>(
    items: S,
    stamp: StreamStamp,
    patience: std::time::Duration,
) -> ReceiverStream<Result<E, Status>>
where
    E: Envelope,
    S: Stream<Item = Result<E::Item, StageError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(STREAM_DEPTH);
    tokio::spawn(async move {
        let mut items = std::pin::pin!(items);
        let mut sent = 0u64;
        loop {
            // Waiting on the stage must not outlive the client either.
            let item = tokio::select! {
                item = items.next() => item,
                () = tx.closed() => None,
            };
            let Some(item) = item else { break };
            let message = match item {
                Ok(item) => Ok(E::wrap(stamp.header(sent), Body::Item(item))),
                Err(e) => Err(to_status(&e)),
            };
            let failed = message.is_err();
            match tx.send_timeout(message, patience).await {
                Ok(()) => {}
                Err(mpsc::error::SendTimeoutError::Closed(_)) => {
                    tracing::debug!(challenge_id = %stamp.challenge_id, sent, "Client left; stream stopped.");
                    return;
                }
                Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                    tracing::warn!(
                        challenge_id = %stamp.challenge_id,
                        sent,
                        patience_s = patience.as_secs_f64(),
                        "Client stopped reading; stream stopped."
                    );
                    return;
                }
            }
            if failed {
                return;
            }
            sent += 1;
        }
        if tx.is_closed() {
            tracing::debug!(challenge_id = %stamp.challenge_id, sent, "Client left; stream stopped.");
            return;
        }
        let end = E::wrap(stamp.header(sent), Body::End(EndOfStream { items: sent }));
        let _ = tx.send(Ok(end)).await;
    });
    ReceiverStream::new(rx)
}

/// Reads a stage's response stream into its items, checking the header of
/// every message. `stage` names the server in error messages.
pub fn receive<E, S>(
    messages: S,
    challenge_id: String,
    stage: &'static str,
) -> impl Stream<Item = Result<E::Item, StageError>> + Send + 'static
where
    E: Envelope,
    S: Stream<Item = Result<E, Status>> + Send + Unpin + 'static,
{
    let state = Receiver {
        messages,
        challenge_id,
        stage,
        expected: 0,
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        let item = state.next().await;
        match item {
            None => None,
            Some(item) => {
                state.done = item.is_err();
                Some((item, state))
            }
        }
    })
}

struct Receiver<S> {
    messages: S,
    challenge_id: String,
    stage: &'static str,
    expected: u64,
    done: bool,
}

impl<S> Receiver<S> {
    fn broken(&self, why: String) -> StageError {
        StageError::new(ErrorKind::Internal, format!("{}: {why}", self.stage))
    }

    /// The next item, `None` after a well-formed end, or the error that ends it.
    async fn next<E>(&mut self) -> Option<Result<E::Item, StageError>>
    where
        E: Envelope,
        S: Stream<Item = Result<E, Status>> + Unpin,
    {
        let message = match self.messages.next().await {
            Some(Ok(message)) => message,
            Some(Err(status)) => return Some(Err(from_status(self.stage, &status))),
            None => {
                return Some(Err(StageError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "{} stage stream was cut off after {} items",
                        self.stage, self.expected
                    ),
                )));
            }
        };
        let (header, body) = message.open();
        let Some(header) = header else {
            return Some(Err(self.broken("a message without a header".into())));
        };
        if header.challenge_id != self.challenge_id {
            return Some(Err(self.broken(format!(
                "a message for challenge {:?} in the stream of {:?}",
                header.challenge_id, self.challenge_id
            ))));
        }
        if header.sequence != self.expected {
            return Some(Err(self.broken(format!(
                "message {} arrived where {} was expected",
                header.sequence, self.expected
            ))));
        }
        match body {
            Some(Body::Item(item)) => {
                self.expected += 1;
                Some(Ok(item))
            }
            Some(Body::End(end)) if end.items == self.expected => {
                self.done = true;
                None
            }
            Some(Body::End(end)) => Some(Err(self.broken(format!(
                "the stream ended claiming {} items after {}",
                end.items, self.expected
            )))),
            None => Some(Err(self.broken("a message without a body".into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use sv_core::{ErrorKind, StageError};
    use tonic::Status;

    use super::*;
    use crate::v1::{FrameTracks, TrackMessage};

    fn tracks(index: u64) -> FrameTracks {
        FrameTracks {
            index,
            ..Default::default()
        }
    }

    fn stamp() -> StreamStamp {
        StreamStamp {
            challenge_id: "c1".into(),
            trace: [("traceparent".to_string(), "00-ab-cd-01".to_string())].into(),
        }
    }

    async fn collect(
        messages: Vec<Result<TrackMessage, Status>>,
    ) -> Vec<Result<FrameTracks, StageError>> {
        receive(futures::stream::iter(messages), "c1".into(), "track")
            .collect()
            .await
    }

    #[tokio::test]
    async fn a_stream_arrives_whole_with_headers_and_end() {
        let items = futures::stream::iter((0..5).map(|i| Ok(tracks(i))));
        let sent: Vec<_> = respond::<TrackMessage, _>(items, stamp()).collect().await;
        assert_eq!(sent.len(), 6, "5 items and the end");
        for (i, message) in sent.iter().enumerate() {
            let header = message.as_ref().unwrap().header.as_ref().unwrap();
            assert_eq!(header.sequence, i as u64);
            assert_eq!(header.challenge_id, "c1");
            assert_eq!(header.trace["traceparent"], "00-ab-cd-01");
        }
        let received = collect(sent).await;
        let indices: Vec<u64> = received.into_iter().map(|r| r.unwrap().index).collect();
        assert_eq!(indices, vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_stage_error_becomes_a_status_and_back() {
        let items = futures::stream::iter(vec![
            Ok(tracks(0)),
            Err(StageError::new(
                ErrorKind::InvalidInput,
                "decode: not a video",
            )),
            Ok(tracks(1)),
        ]);
        let sent: Vec<_> = respond::<TrackMessage, _>(items, stamp()).collect().await;
        assert_eq!(sent.len(), 2, "nothing after the error, not even an end");
        let received = collect(sent).await;
        assert!(received[0].is_ok());
        assert_eq!(
            received[1].as_ref().unwrap_err(),
            &StageError::new(ErrorKind::InvalidInput, "decode: not a video")
        );
    }

    #[tokio::test]
    async fn a_cut_stream_is_an_error_not_a_short_result() {
        let items = futures::stream::iter((0..3).map(|i| Ok(tracks(i))));
        let mut sent: Vec<_> = respond::<TrackMessage, _>(items, stamp()).collect().await;
        sent.pop(); // the end message never arrives
        let received = collect(sent).await;
        assert_eq!(received.len(), 4);
        let e = received[3].as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("cut off after 3 items"), "{}", e.message);
    }

    #[tokio::test]
    async fn gaps_foreign_messages_and_lying_ends_are_refused() {
        let items = futures::stream::iter((0..3).map(|i| Ok(tracks(i))));
        let sent: Vec<_> = respond::<TrackMessage, _>(items, stamp()).collect().await;

        let mut gap = sent.clone();
        let _removed = gap.remove(1);
        let received = collect(gap).await;
        assert!(
            received[1]
                .as_ref()
                .unwrap_err()
                .message
                .contains("message 2 arrived where 1")
        );

        let mut foreign = sent.clone();
        foreign[1]
            .as_mut()
            .unwrap()
            .header
            .as_mut()
            .unwrap()
            .challenge_id = "other".into();
        let received = collect(foreign).await;
        assert!(
            received[1]
                .as_ref()
                .unwrap_err()
                .message
                .contains("\"other\"")
        );

        let mut lying = sent.clone();
        let _removed = lying.remove(2); // drop item 2 and renumber the end so only the count is wrong
        let end = lying[2].as_mut().unwrap();
        end.header.as_mut().unwrap().sequence = 2;
        let received = collect(lying).await;
        assert_eq!(received.len(), 3);
        assert!(
            received[2]
                .as_ref()
                .unwrap_err()
                .message
                .contains("claiming 3 items after 2")
        );
    }

    #[tokio::test]
    async fn the_producer_stops_when_the_client_leaves() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<FrameTracks, StageError>>(1);
        let items = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut sent = respond::<TrackMessage, _>(items, stamp());
        tx.send(Ok(tracks(0))).await.unwrap();
        assert!(sent.next().await.is_some());
        drop(sent);
        // The forwarding task drops its input once its send fails.
        tokio::time::timeout(std::time::Duration::from_secs(5), tx.closed())
            .await
            .expect("the upstream stream was released");
    }

    #[tokio::test(start_paused = true)]
    async fn the_producer_stops_when_the_client_stops_reading() {
        let items = futures::stream::iter((0..1000).map(|i| Ok(tracks(i))));
        let (items, dropped) = drop_flag(items);
        let patience = std::time::Duration::from_secs(60);
        let sent = respond_with_patience::<TrackMessage, _>(items, stamp(), patience);
        // Nobody reads: the channel fills, then the patience runs out.
        tokio::time::sleep(patience / 2).await;
        assert!(!dropped.is_closed(), "gave up before the patience ran out");
        tokio::time::sleep(patience).await;
        assert!(
            dropped.is_closed(),
            "still working for a client that stopped reading"
        );
        // What was queued is still there; the stream then ends without an end.
        let left: Vec<_> = sent.collect().await;
        assert_eq!(left.len(), STREAM_DEPTH);
    }

    /// `items`, and a receiver that is closed once they are dropped.
    fn drop_flag<S>(items: S) -> (impl Stream<Item = S::Item>, tokio::sync::mpsc::Receiver<()>)
    where
        S: Stream,
    {
        let (tx, rx) = tokio::sync::mpsc::channel::<()>(1);
        (
            items.map(move |item| {
                let _alive = &tx;
                item
            }),
            rx,
        )
    }
}
