//! Real PostgreSQL and MariaDB servers on loopback, in temporary directories, for the shared
//! token-store tests. Started and stopped by the test; stopped by PID on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn wait_for_port(port: u16, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A PostgreSQL cluster of its own.
pub struct Postgres {
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Postgres {
    fn bin_dir() -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        found.sort();
        found.pop()
    }

    /// Starts a fresh cluster (trust authentication, loopback only), or `None` if PostgreSQL
    /// is not installed outside CI.
    pub fn start() -> Option<Self> {
        let Some(bin) = Self::bin_dir() else {
            super::peer_missing("PostgreSQL (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            // PostgreSQL refuses to run as root: hand it the directory.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let postgres = Self {
            port: free_port(),
            bin,
            dir,
        };
        let data = postgres.dir.path().join("data");
        let output = postgres
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb");
        assert!(
            output.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        postgres.up();
        Some(postgres)
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts (or restarts) the server and waits for it.
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -h 127.0.0.1 -F",
            self.port,
            self.dir.path().display()
        );
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-o", &options, "start"])
            .output()
            .expect("pg_ctl start");
        assert!(
            output.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            wait_for_port(self.port, Duration::from_secs(20)),
            "PostgreSQL did not listen"
        );
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn down(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }

    /// nova's SQLAlchemy URL for this server.
    pub fn url(&self) -> String {
        format!(
            "postgresql+psycopg2://postgres@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// Runs SQL with psql, as nova's own migrations or nova-compute would write it.
    pub fn sql(&self, sql: &str) {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            output.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.down();
    }
}

/// A MariaDB server of its own, with a `nova` user and a `nova_cell1` database.
pub struct MariaDb {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl MariaDb {
    /// Starts a fresh server, or `None` if MariaDB is not installed outside CI.
    pub fn start() -> Option<Self> {
        if Command::new("mariadbd")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
            && !Path::new("/usr/sbin/mariadbd").exists()
        {
            super::peer_missing("MariaDB (apt-get install mariadb-server)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let user = if is_root() {
            "root".to_owned()
        } else {
            std::env::var("USER").unwrap_or_default()
        };
        let output = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--user={user}"))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            // Servers started at once must not share /tmp for their temporary tables.
            .arg(format!("--tmpdir={}", dir.path().display()))
            .output()
            .expect("mariadb-install-db");
        assert!(
            output.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut server = Self {
            port: free_port(),
            dir,
            child: None,
        };
        server.up();
        server.client_sql(
            "CREATE DATABASE nova_cell1; CREATE USER 'nova'@'127.0.0.1' IDENTIFIED BY 'NOVA_DBPASS'; \
             GRANT ALL ON nova_cell1.* TO 'nova'@'127.0.0.1';",
            None,
        );
        Some(server)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// Starts (or restarts) the server and waits for it.
    pub fn up(&mut self) {
        let user = if is_root() {
            "root".to_owned()
        } else {
            std::env::var("USER").unwrap_or_default()
        };
        let program = if Path::new("/usr/sbin/mariadbd").exists() {
            "/usr/sbin/mariadbd"
        } else {
            "mariadbd"
        };
        let child = Command::new(program)
            .arg("--no-defaults")
            .arg(format!(
                "--datadir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--port={}", self.port))
            .arg(format!(
                "--pid-file={}",
                self.dir.path().join("mysqld.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                self.dir.path().join("error.log").display()
            ))
            .arg(format!("--user={user}"))
            .arg(format!("--tmpdir={}", self.dir.path().display()))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, Duration::from_secs(30)),
            "MariaDB did not listen"
        );
    }

    /// Stops the server.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    fn client_sql(&self, sql: &str, database: Option<&str>) {
        let mut command = Command::new("mariadb");
        command
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-u", "root"]);
        if let Some(database) = database {
            command.arg(database);
        }
        let output = command.args(["-e", sql]).output().expect("mariadb client");
        assert!(
            output.status.success(),
            "mariadb: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs SQL in `nova_cell1`.
    pub fn sql(&self, sql: &str) {
        self.client_sql(sql, Some("nova_cell1"));
    }

    /// nova's SQLAlchemy URL for this server.
    pub fn url(&self) -> String {
        format!(
            "mysql+pymysql://nova:NOVA_DBPASS@127.0.0.1:{}/nova_cell1?charset=utf8",
            self.port
        )
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.down();
    }
}

/// nova's `console_auth_tokens` as nova's migrations make it, for PostgreSQL or MySQL.
pub fn nova_schema(postgres: bool) -> String {
    let (id, time) = if postgres {
        ("id SERIAL PRIMARY KEY", "TIMESTAMP")
    } else {
        ("id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY", "DATETIME")
    };
    format!(
        "CREATE TABLE console_auth_tokens (created_at {time}, updated_at {time}, {id}, \
         token_hash VARCHAR(255) NOT NULL, console_type VARCHAR(255) NOT NULL, host VARCHAR(255) NOT NULL, \
         port INTEGER NOT NULL, tls_port INTEGER, internal_access_path VARCHAR(255), instance_uuid VARCHAR(36) NOT NULL, \
         expires INTEGER NOT NULL, access_url_base VARCHAR(255), \
         CONSTRAINT uniq_console_auth_tokens0token_hash UNIQUE (token_hash)); \
         CREATE INDEX console_auth_tokens_instance_uuid_idx ON console_auth_tokens (instance_uuid); \
         CREATE INDEX console_auth_tokens_host_expires_idx ON console_auth_tokens (host, expires); \
         CREATE INDEX console_auth_tokens_token_hash_instance_uuid_idx ON console_auth_tokens (token_hash, instance_uuid);"
    )
}
