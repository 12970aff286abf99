//! Contexts shared by every pipeline of the process (GstContext).
//!
//! NVDEC's elements need a CUDA context; when nobody hands them one they
//! create their own (the first `nvh264dec` of a process took about 2 s)
//! and publish it on the bus as `have-context` ("gst.cuda.context"). Each
//! decode builds a new pipeline, so without sharing every clip paid that
//! again. The cache keeps the first context of each shared type and gives
//! it to every later pipeline: set on the pipeline before it starts (a bin
//! answers its children's `need-context` from its own contexts), and in the
//! bus's sync handler for a `need-context` that still reaches the bus (two
//! pipelines starting at once). Plain GstContext plumbing, no CUDA calls;
//! the contexts live as long as the process.

use std::sync::{Arc, LazyLock, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;

/// The context types worth sharing across pipelines.
pub const SHARED_TYPES: &[&str] = &["gst.cuda.context"];

/// Contexts of some types, kept from the first pipeline that made them.
#[derive(Debug)]
pub struct ContextCache {
    types: Vec<String>,
    contexts: Mutex<Vec<gst::Context>>,
}

impl ContextCache {
    pub fn new(types: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            types: types.iter().map(|t| t.to_string()).collect(),
            contexts: Mutex::default(),
        })
    }

    /// The process's cache of [`SHARED_TYPES`].
    pub fn global() -> &'static Arc<Self> {
        static GLOBAL: LazyLock<Arc<ContextCache>> =
            LazyLock::new(|| ContextCache::new(SHARED_TYPES));
        &GLOBAL
    }

    /// The cached context of `context_type`, if any.
    pub fn get(&self, context_type: &str) -> Option<gst::Context> {
        let contexts = self.contexts.lock().ok()?;
        contexts
            .iter()
            .find(|c| c.context_type() == context_type)
            .cloned()
    }

    /// Keeps `context` if its type is shared and none of it is kept yet.
    /// True when it was kept.
    pub fn remember(&self, context: &gst::Context) -> bool {
        let kind = context.context_type();
        if !self.types.iter().any(|t| t == kind) {
            return false;
        }
        let Ok(mut contexts) = self.contexts.lock() else {
            return false;
        };
        if contexts.iter().any(|c| c.context_type() == kind) {
            return false;
        }
        tracing::info!(
            context_type = kind,
            "Keeping a GStreamer context for later videos."
        );
        contexts.push(context.clone());
        true
    }

    /// Gives `pipeline` every cached context (before it starts).
    pub fn apply(&self, pipeline: &gst::Pipeline) {
        if let Ok(contexts) = self.contexts.lock() {
            for context in contexts.iter() {
                pipeline.set_context(context);
            }
        }
    }

    /// Handles a bus message in a sync handler: keeps a published context
    /// and answers a request for a cached one. Returns true for the two
    /// context messages (handled here, nobody else needs them).
    pub fn handle(&self, message: &gst::Message) -> bool {
        match message.view() {
            gst::MessageView::HaveContext(have) => {
                self.remember(&have.context());
                true
            }
            gst::MessageView::NeedContext(need) => {
                let element = message.src().and_then(|s| s.downcast_ref::<gst::Element>());
                if let (Some(element), Some(context)) = (element, self.get(need.context_type())) {
                    element.set_context(&context);
                }
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE: &str = "sv.test.context";

    fn context(kind: &str, value: i32) -> gst::Context {
        let mut context = gst::Context::new(kind, true);
        context
            .get_mut()
            .unwrap()
            .structure_mut()
            .set("value", value);
        context
    }

    fn value(context: &gst::Context) -> i32 {
        context.structure().get::<i32>("value").unwrap()
    }

    #[test]
    fn keeps_the_first_context_of_shared_types_only() {
        gst::init().unwrap();
        let cache = ContextCache::new(&[FAKE]);
        assert!(cache.get(FAKE).is_none());
        assert!(!cache.remember(&context("other.type", 1)));
        assert!(cache.remember(&context(FAKE, 1)));
        assert!(!cache.remember(&context(FAKE, 2)), "the first one stays");
        assert_eq!(value(&cache.get(FAKE).unwrap()), 1);
        assert!(cache.get("other.type").is_none());
    }

    #[test]
    fn a_published_context_reaches_the_next_pipeline() {
        gst::init().unwrap();
        let cache = ContextCache::new(&[FAKE]);
        // Pipeline one: an element publishes its context (as nvh264dec
        // does after creating a CUDA context); the bus's sync handler sees it.
        let first = gst::Pipeline::new();
        let maker = gst::ElementFactory::make("identity").build().unwrap();
        first.add(&maker).unwrap();
        let handler = cache.clone();
        first.bus().unwrap().set_sync_handler(move |_, message| {
            handler.handle(message);
            gst::BusSyncReply::Drop
        });
        let published = gst::message::HaveContext::builder(context(FAKE, 7))
            .src(&maker)
            .build();
        maker.post_message(published).unwrap();
        assert_eq!(value(&cache.get(FAKE).unwrap()), 7);

        // Pipeline two: given the context before it starts, its elements
        // (those added later too, as decodebin adds its decoder) have it.
        let second = gst::Pipeline::new();
        cache.apply(&second);
        let late = gst::ElementFactory::make("identity").build().unwrap();
        second.add(&late).unwrap();
        assert_eq!(value(&late.context(FAKE).unwrap()), 7);

        // A need-context that reaches a bus is answered from the cache.
        let third = gst::Pipeline::new();
        let asking = gst::ElementFactory::make("identity").build().unwrap();
        third.add(&asking).unwrap();
        let handler = cache.clone();
        third.bus().unwrap().set_sync_handler(move |_, message| {
            handler.handle(message);
            gst::BusSyncReply::Drop
        });
        let need = gst::message::NeedContext::builder(FAKE)
            .src(&asking)
            .build();
        asking.post_message(need).unwrap();
        assert_eq!(value(&asking.context(FAKE).unwrap()), 7);
    }
}
