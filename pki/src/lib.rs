//! vncgate-pki
