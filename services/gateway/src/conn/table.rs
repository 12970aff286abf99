//! [`Table`]: the open connections, the cap, and who makes room at it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::watch::Watch;

/// The open connections.
pub struct Table {
    cap: usize,
    open: Mutex<Open>,
    emptied: Notify,
    removed: Notify,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    watches: HashMap<u64, Arc<Watch>>,
}

/// What became of a new connection.
pub enum Admission {
    /// It is counted until the guard goes.
    Admitted(Admitted),
    /// Every open connection is serving a request; the new one is refused.
    Full,
}

/// A connection in the table; dropping it removes the connection.
pub struct Admitted {
    table: Arc<Table>,
    id: u64,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.table.open();
        open.watches.remove(&self.id);
        if open.watches.is_empty() {
            self.table.emptied.notify_waiters();
        }
        self.table.removed.notify_waiters();
    }
}

impl Table {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            open: Mutex::default(),
            emptied: Notify::new(),
            removed: Notify::new(),
        }
    }

    /// Connections open at most, evicted ones that have not closed yet
    /// included: the cap and half as many again. Under a burst, evictions
    /// can outpace the tasks that close them; beyond this the accept loop
    /// waits for them (new connections wait in the kernel's backlog), so the
    /// descriptors in use stay below the limit the cap was derived from.
    pub fn max_open(&self) -> usize {
        self.cap + self.cap / 2
    }

    /// Resolves once fewer than [`max_open`](Self::max_open) are open.
    pub async fn room(&self) {
        loop {
            let removed = self.removed.notified();
            let mut removed = std::pin::pin!(removed);
            removed.as_mut().enable();
            if self.open().watches.len() < self.max_open() {
                return;
            }
            removed.await;
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        // Map inserts and removes only: a poisoned lock holds a usable map.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a new connection. At the cap, the connection that has waited
    /// longest without serving a request is evicted to make room (it closes
    /// moments later; until then the table holds one over the cap).
    pub fn admit(self: &Arc<Self>, watch: Arc<Watch>) -> Admission {
        let mut open = self.open();
        // Evicted connections are on their way out: they do not count.
        let live = open.watches.values().filter(|w| !w.is_evicted()).count();
        if live >= self.cap && !evict_longest_waiting(&open) {
            return Admission::Full;
        }
        let id = open.next_id;
        open.next_id += 1;
        open.watches.insert(id, watch);
        Admission::Admitted(Admitted {
            table: self.clone(),
            id,
        })
    }

    /// Open connections right now (evicted ones included until they close).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open().watches.len()
    }

    /// Resolves once no connection is open.
    pub async fn closed(&self) {
        loop {
            let emptied = self.emptied.notified();
            let mut emptied = std::pin::pin!(emptied);
            emptied.as_mut().enable();
            if self.open().watches.is_empty() {
                return;
            }
            emptied.await;
        }
    }
}

fn evict_longest_waiting(open: &Open) -> bool {
    let oldest = open
        .watches
        .values()
        .filter_map(|w| w.waiting_since().map(|since| (since, w)))
        .min_by_key(|(since, _)| *since);
    oldest.is_some_and(|(_, watch)| watch.evict())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::conn::Limits;

    fn watch() -> Arc<Watch> {
        Arc::new(Watch::new(Limits {
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_connections: 2,
        }))
    }

    fn admitted(admission: Admission) -> Admitted {
        match admission {
            Admission::Admitted(guard) => guard,
            Admission::Full => panic!("refused below the cap"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let table = Arc::new(Table::new(2));
        let (oldest, serving, newer) = (watch(), watch(), watch());
        let oldest_guard = admitted(table.admit(oldest.clone()));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let _b = admitted(table.admit(serving.clone()));
        let _request = serving.begin_request();
        // Full: the waiting one goes, never the one serving a request.
        let _c = admitted(table.admit(newer.clone()));
        assert!(oldest.is_evicted());
        assert!(!serving.is_evicted() && !newer.is_evicted());
        assert_eq!(table.len(), 3, "the evicted one stays until it closes");
        // At cap + cap/2 open (closing ones included) there is no room.
        assert_eq!(table.max_open(), 3);
        let waiting = tokio::spawn({
            let table = table.clone();
            async move { table.room().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "room with 3 of 3 open");
        drop(oldest_guard);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("room once the evicted one closed")
            .expect("no panic");
        // The newer one waits too; the next newcomer evicts it.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let _d = admitted(table.admit(watch()));
        assert!(newer.is_evicted());
    }

    #[tokio::test(start_paused = true)]
    async fn a_newcomer_is_refused_when_every_connection_serves_and_closing_empties() {
        let table = Arc::new(Table::new(1));
        let busy = watch();
        let guard = admitted(table.admit(busy.clone()));
        let request = busy.begin_request();
        assert!(matches!(table.admit(watch()), Admission::Full));
        assert!(!busy.is_evicted());
        drop(request);
        let waiter = tokio::spawn({
            let table = table.clone();
            async move { table.closed().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "closed with a connection open");
        drop(guard);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("closed() resolves once the table is empty")
            .expect("no panic");
    }
}
