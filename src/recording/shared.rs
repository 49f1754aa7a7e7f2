//! The recorder over a [`RecordLog`] that replicas share (PostgreSQL): every replica
//! appends its requests, any replica answers about all of them.

use crate::store::{RecordLog, StoreError};

use super::{RecordQuery, RequestRecord};

/// Records read per round trip while looking for matches, newest first.
const BATCH: usize = 500;

/// Appends a record; the log assigns its sequence number.
pub(super) fn append(log: &dyn RecordLog, record: &RequestRecord, capacity: usize) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    log.append(&record.tenant, &bytes, capacity)
}

/// The newest `limit` records that match, oldest first, looking at no more than the ring's
/// `capacity` records.
pub(super) fn query(log: &dyn RecordLog, q: &RecordQuery, capacity: usize) -> Result<Vec<RequestRecord>, StoreError> {
    let limit = q.limit.unwrap_or(1000);
    let after = q.since.unwrap_or(0);
    let (mut found, mut before, mut scanned) = (Vec::new(), None, 0);
    while found.len() < limit && scanned < capacity {
        let batch = log.newest(after, before, BATCH.min(capacity - scanned))?;
        let Some((oldest, _)) = batch.last() else { break };
        before = Some(*oldest);
        scanned += batch.len();
        for (seq, bytes) in batch {
            // A record another version wrote in a shape this one cannot read is skipped.
            let Ok(mut record) = serde_json::from_slice::<RequestRecord>(&bytes) else { continue };
            record.seq = seq;
            if q.matches(&record) && found.len() < limit {
                found.push(record);
            }
        }
    }
    found.reverse();
    Ok(found)
}
