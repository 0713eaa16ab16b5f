//! Operating the proxy, beside the data path: the metrics (`metrics.rs`), readiness
//! (`health.rs`), the small HTTP listener the metrics and the admin API share (`listener.rs`),
//! `/metrics`, `/healthz` and `/readyz` on `metrics_listen` (`monitor.rs`), the audit trail
//! (`audit.rs`), the signals that stop and reload the process (`signals.rs`) and the log set-up
//! (`telemetry.rs`).

pub mod audit;
pub mod health;
pub mod listener;
pub mod metrics;
pub mod monitor;
pub mod signals;
pub mod telemetry;
