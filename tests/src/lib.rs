//! Workspace integration test helpers: fixture paths and golden loading.
