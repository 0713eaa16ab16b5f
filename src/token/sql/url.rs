//! nova's SQLAlchemy database URLs, turned into sqlx's. No I/O.

use super::error::StoreError;

/// Which SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// MySQL or MariaDB.
    MySql,
    /// PostgreSQL.
    Postgres,
}

/// Turns nova's SQLAlchemy URL into a sqlx URL: `mysql+pymysql://u:p@h/db?charset=utf8` becomes
/// `mysql://u:p@h/db`, `sqlite:////abs/path` becomes a path. Driver options in the query are
/// dropped, since sqlx does not know PyMySQL's.
///
/// # Errors
/// A scheme that is none of the understood ones.
pub fn translate_url(url: &str) -> Result<(String, Dialect), StoreError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| StoreError::Scheme(url.chars().take_while(|c| *c != ':').collect()))?;
    let dialect = match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Dialect::Sqlite,
        "mysql" | "mysql+pymysql" | "mysql+mysqldb" | "mariadb" | "mariadb+pymysql" => {
            Dialect::MySql
        }
        "postgresql" | "postgresql+psycopg2" | "postgresql+psycopg" | "postgres" => {
            Dialect::Postgres
        }
        other => return Err(StoreError::Scheme(other.to_owned())),
    };
    let translated = match dialect {
        // SQLAlchemy: sqlite:///relative and sqlite:////absolute.
        Dialect::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            rest.strip_prefix('/').unwrap_or(rest)
        ),
        Dialect::MySql => format!("mysql://{}", rest.split('?').next().unwrap_or(rest)),
        Dialect::Postgres => format!("postgres://{}", rest.split('?').next().unwrap_or(rest)),
    };
    Ok((translated, dialect))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_urls() {
        let cases = [
            (
                "mysql+pymysql://nova:pw@controller/nova_cell1?charset=utf8",
                "mysql://nova:pw@controller/nova_cell1",
                Dialect::MySql,
            ),
            (
                "mysql://u:p@127.0.0.1:3306/db",
                "mysql://u:p@127.0.0.1:3306/db",
                Dialect::MySql,
            ),
            (
                "postgresql+psycopg2://u:p@h/db",
                "postgres://u:p@h/db",
                Dialect::Postgres,
            ),
            (
                "postgresql://u@h:5433/db",
                "postgres://u@h:5433/db",
                Dialect::Postgres,
            ),
            (
                "sqlite:////var/lib/vncgate/tokens.sqlite",
                "sqlite:///var/lib/vncgate/tokens.sqlite?mode=rwc",
                Dialect::Sqlite,
            ),
            (
                "sqlite:///relative.db",
                "sqlite://relative.db?mode=rwc",
                Dialect::Sqlite,
            ),
        ];
        for (nova, sqlx, dialect) in cases {
            let translated = translate_url(nova).map_err(|e| e.to_string());
            assert_eq!(translated, Ok((sqlx.to_owned(), dialect)), "{nova}");
        }
        for bad in ["oracle://x/y", "mssql+pyodbc://x", "nonsense"] {
            let error = translate_url(bad)
                .map(|_| ())
                .map_err(|e| e.to_string())
                .err()
                .unwrap_or_default();
            assert!(
                error.contains("understood: sqlite, mysql"),
                "{bad}: {error}"
            );
        }
    }
}
