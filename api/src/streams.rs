//! Slots for long-lived answers (live log streams), counted per org in this process so
//! that one tenant cannot hold every connection and database poll (SPEC §12,
//! `CONVOY_MAX_STREAMS_PER_ORG`). A slot is a guard: it is given back when the stream that
//! holds it is dropped, whether it ended or the client went away. When the process stops,
//! [`StreamSlots::close_all`] tells every stream to end (with a last event that sends its
//! client elsewhere) instead of holding the HTTP drain until its timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The open streams of every org; clones share the counts.
#[derive(Clone, Debug, Default)]
pub struct StreamSlots {
    open: Arc<Mutex<HashMap<String, usize>>>,
    closing: tokio_util::sync::CancellationToken,
}

/// One open stream of `org`; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: StreamSlots,
    org: String,
}

impl StreamSlots {
    /// A slot for `org` unless it already holds `cap` of them.
    pub fn acquire(&self, org: &str, cap: usize) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(org.to_string()).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            slots: self.clone(),
            org: org.to_string(),
        })
    }

    /// Tells every stream of this process to end: it is stopping.
    pub fn close_all(&self) {
        self.closing.cancel();
    }

    /// Resolves once [`StreamSlots::close_all`] was called.
    pub async fn closed(&self) {
        self.closing.cancelled().await;
    }

    pub fn is_closing(&self) -> bool {
        self.closing.is_cancelled()
    }

    /// How many streams `org` holds open now.
    pub fn open(&self, org: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(org).copied().unwrap_or(0)
    }
}

impl StreamSlot {
    /// Resolves once the process is stopping and the stream should end.
    pub async fn closed(&self) {
        self.slots.closed().await;
    }

    pub fn is_closing(&self) -> bool {
        self.slots.is_closing()
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.org) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.org);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_org_and_come_back_when_dropped() {
        let slots = StreamSlots::default();
        let a1 = slots.acquire("acme", 2).unwrap();
        let _a2 = slots.acquire("acme", 2).unwrap();
        assert!(slots.acquire("acme", 2).is_none());
        // Another org has its own count.
        let _g1 = slots.acquire("globex", 2).unwrap();
        assert_eq!(slots.open("acme"), 2);
        drop(a1);
        assert_eq!(slots.open("acme"), 1);
        assert!(slots.acquire("acme", 2).is_some());
        // The slot taken just above was dropped at once.
        assert_eq!(slots.open("acme"), 1);
    }
}
