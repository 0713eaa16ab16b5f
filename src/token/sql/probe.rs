//! Whether one of vncgate's own tables (or a column added to one later) is in the database,
//! asked now and then: a database of nova's may lack them until `token init-db` runs, and must
//! then still work.

use crate::chain::chain;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::AnyPool;

use super::error::{is_missing_column, is_missing_table, StoreError};

/// How long a probe of one of vncgate's tables is trusted: a table made by `token init-db`
/// while proxies run counts within this.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

/// The last answer about one table.
#[derive(Debug)]
pub(super) struct TableProbe {
    table: &'static str,
    /// The columns asked for: `1` for the table alone.
    columns: &'static str,
    last: Mutex<Option<(bool, Instant)>>,
}

impl TableProbe {
    pub(super) fn new(table: &'static str) -> Self {
        Self::columns(table, "1")
    }

    /// A probe for `columns` (comma-separated) of `table`, added after the table was first
    /// made: absent until `token init-db` adds them.
    pub(super) fn columns(table: &'static str, columns: &'static str) -> Self {
        Self {
            table,
            columns,
            last: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<(bool, Instant)>> {
        // A panic while holding this lock leaves a valid answer behind.
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets the last answer: the next [`Self::present`] asks the database.
    pub(super) fn forget(&self) {
        *self.lock() = None;
    }

    /// Whether the table is there. The answer is kept for [`PROBE_INTERVAL`]. A probe that
    /// fails for another reason than the table's absence (a privilege change, a pool time-out,
    /// a fail-over) keeps the last answer, or is an error when there is none.
    ///
    /// # Errors
    /// The probe failed and nothing is known yet.
    pub(super) async fn present(&self, pool: &AnyPool) -> Result<bool, StoreError> {
        let known = match *self.lock() {
            Some((present, at)) if at.elapsed() < PROBE_INTERVAL => return Ok(present),
            Some((present, _)) => Some(present),
            None => None,
        };
        let sql = format!("SELECT {} FROM {} WHERE 1 = 0", self.columns, self.table);
        let present = match sqlx::query(&sql).fetch_all(pool).await {
            Ok(_) => true,
            Err(error) if is_missing_table(&error) || is_missing_column(&error) => false,
            Err(error) => {
                tracing::debug!(error = %chain(&error), table = self.table, "table probe failed");
                return known.ok_or(StoreError::Database(error));
            }
        };
        *self.lock() = Some((present, Instant::now()));
        Ok(present)
    }
}
