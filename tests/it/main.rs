//! The integration tests, one binary: each module is one area, against real peers (QEMU,
//! Xvnc, Chromium, MariaDB, PostgreSQL, HAProxy, testssl…) started by `common/`. One binary
//! compiles `common/` once and links once. Run one area with `cargo test --test it AREA::`.

mod common;

mod a11y;
mod architecture;
mod authd;
mod backend_policy;
mod browser_console;
mod browser_engines;
mod clipboard;
mod cluster;
mod config_files;
mod container;
mod edge_limits;
mod flood;
mod framing;
mod i18n;
mod libvirt;
mod libvirt_hosts;
mod node_isolation;
mod operations;
mod pki_cli;
mod qemu_end_to_end;
mod recording;
mod reload;
mod revocation;
mod rfb_hostile;
mod serial;
mod sessions_api;
mod signin;
mod signin_projects;
mod spice;
mod static_and_tls;
mod systemd_unit;
mod token_api;
mod token_jwe;
mod token_jwt;
mod token_names;
mod token_redis;
mod token_shared_db;
mod token_store;
mod unix_target;
mod vencrypt_qemu;
mod view_only;
mod webmks;
mod websocket_front;
mod xvnc_interop;
