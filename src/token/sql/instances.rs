//! nova's `instances` table, read for one thing: which project a console's instance belongs to,
//! for `[vncgate] access_policy` rules that grant by project. Read only; a database without
//! the table (vncgate's own) knows no project.

use sqlx::Row;

use super::error::is_missing_table;
use super::{SqlStore, StoreError};

impl SqlStore {
    /// The project of nova's instance `uuid`: `None` when the instance or the table is not
    /// there (a deleted instance keeps its row, and its project, until nova archives it).
    ///
    /// # Errors
    /// The database failed.
    pub async fn instance_project(&self, uuid: &str) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT project_id FROM instances WHERE uuid = {}",
            self.param(1)
        );
        match sqlx::query(&sql)
            .bind(uuid.to_owned())
            .fetch_optional(&self.pool)
            .await
        {
            Ok(row) => Ok(row
                .map(|row| row.try_get::<Option<String>, _>(0))
                .transpose()?
                .flatten()),
            Err(error) if is_missing_table(&error) => Ok(None),
            Err(error) => Err(StoreError::Database(error)),
        }
    }
}
