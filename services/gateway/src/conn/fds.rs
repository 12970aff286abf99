//! The descriptor limit: raised where allowed, and what it leaves for
//! connections.
//!
//! Containers often start with a soft `RLIMIT_NOFILE` of 1024 under a much
//! higher hard limit; a process may raise its own soft limit up to the hard
//! one without privileges. Downloads, model files, stage connections, shared
//! memory rings and logs need descriptors too, so connections get at most
//! half of the limit: at the cap the gateway evicts connections instead of
//! failing `accept` with "Too many open files".

use tracing::{info, warn};

/// Raises the soft descriptor limit to the hard limit; returns the soft
/// limit now in force (`None` where it cannot be read).
pub fn raise_descriptor_limit() -> Option<u64> {
    let (soft, hard) = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            warn!(error = %e, "Cannot read the descriptor limit.");
            return None;
        }
    };
    if soft >= hard {
        return Some(soft);
    }
    match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => {
            info!(
                from = soft,
                to = raised,
                "Raised the soft descriptor limit."
            );
            Some(raised)
        }
        Err(e) => {
            warn!(soft, hard, error = %e, "Cannot raise the soft descriptor limit.");
            Some(soft)
        }
    }
}

/// Connections allowed open: `configured`, but at most half of the
/// descriptor limit `soft` (unknown: `configured`), and at least one.
pub fn connection_cap(configured: usize, soft: Option<u64>) -> usize {
    let half = soft.map_or(usize::MAX, |s| usize::try_from(s / 2).unwrap_or(usize::MAX));
    configured.min(half).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_half_the_descriptors_to_the_rest_of_the_process() {
        assert_eq!(connection_cap(512, Some(1024)), 512);
        assert_eq!(connection_cap(512, Some(256)), 128);
        assert_eq!(connection_cap(512, Some(1 << 20)), 512);
        assert_eq!(connection_cap(512, None), 512);
        assert_eq!(connection_cap(512, Some(1)), 1);
    }

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        let raised = raise_descriptor_limit().expect("readable on Linux");
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("readable");
        assert_eq!(raised, soft);
        // Linux caps the soft limit at nr_open even when hard is higher.
        assert!(soft == hard || soft >= 1024, "soft {soft}, hard {hard}");
    }
}
