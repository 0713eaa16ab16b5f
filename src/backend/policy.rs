//! Which console servers a token may point at, and which schemes the proxy may use with each.
//! No I/O.
//!
//! A token is data, written by nova or an operator's tooling into a database: it must not be
//! able to point the proxy at the cloud's metadata service or at the proxy's own admin port.
//! And a fallback to a weaker scheme (`vencrypt,vnc`) is a downgrade a man in the middle can
//! pick, so the schemes can be narrowed per network and per target.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::console::AuthScheme;

/// The policy for console servers.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// `[vnc] auth_schemes`, in order.
    pub schemes: Vec<AuthScheme>,
    /// `[vncgate] auth_schemes_by_network`: the longest matching prefix wins.
    pub schemes_by_network: Vec<(IpNet, Vec<AuthScheme>)>,
    /// `[vncgate] allowed_backends`; empty allows any address.
    pub allowed: Vec<IpNet>,
    /// The proxy's own listeners (the admin API): never a target.
    pub own: Vec<SocketAddr>,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    /// Outside `allowed_backends`.
    #[error("{0} is outside allowed_backends")]
    Outside(IpAddr),
    /// One of the proxy's own listeners.
    #[error("{0} is one of the proxy's own listeners")]
    Own(SocketAddr),
    /// A Unix socket the token may not name.
    #[error(transparent)]
    Socket(super::unix::Confinement),
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl TargetPolicy {
    /// Whether the proxy may connect to `addr`.
    ///
    /// # Errors
    /// Why not.
    pub fn check(&self, addr: SocketAddr) -> Result<(), NotAllowed> {
        let ip = canonical(addr.ip());
        let own = self.own.iter().any(|listener| {
            listener.port() == addr.port()
                && (listener.ip().is_unspecified()
                    || canonical(listener.ip()) == ip
                    || (listener.ip().is_loopback() && ip.is_loopback()))
        });
        if own {
            return Err(NotAllowed::Own(addr));
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|net| net.contains(&ip)) {
            return Err(NotAllowed::Outside(ip));
        }
        Ok(())
    }

    /// Whether targets must be resolved before the upgrade to be checked. Without an allowed
    /// list only the proxy's own listeners are refused: names are then checked on the address
    /// reached, after the upgrade.
    pub fn restricts(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// The schemes to offer a console server at `ip`: the token's own list, else the most
    /// specific network's, else `auth_schemes`.
    pub fn schemes_for(&self, token: Option<&[AuthScheme]>, ip: IpAddr) -> Vec<AuthScheme> {
        if let Some(schemes) = token {
            return schemes.to_vec();
        }
        let ip = canonical(ip);
        self.schemes_by_network
            .iter()
            .filter(|(network, _)| network.contains(&ip))
            .max_by_key(|(network, _)| network.prefix_len())
            .map_or_else(|| self.schemes.clone(), |(_, schemes)| schemes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> TargetPolicy {
        TargetPolicy {
            schemes: vec![AuthScheme::Vencrypt, AuthScheme::None],
            schemes_by_network: vec![
                (
                    "10.0.0.0/8".parse().unwrap_or_default(),
                    vec![AuthScheme::Vencrypt],
                ),
                (
                    "10.1.0.0/16".parse().unwrap_or_default(),
                    vec![AuthScheme::Vnc],
                ),
            ],
            allowed: vec!["10.0.0.0/8".parse().unwrap_or_default()],
            own: vec!["127.0.0.1:6081"
                .parse()
                .unwrap_or(SocketAddr::from(([0; 4], 0)))],
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap_or(SocketAddr::from(([0; 4], 0)))
    }

    #[test]
    fn targets_outside_the_list_and_own_listeners_are_refused() {
        let policy = policy();
        assert_eq!(policy.check(addr("10.2.3.4:5900")), Ok(()));
        assert!(matches!(
            policy.check(addr("169.254.169.254:80")),
            Err(NotAllowed::Outside(_))
        ));
        assert!(matches!(
            policy.check(addr("127.0.0.1:6081")),
            Err(NotAllowed::Own(_))
        ));
        let open = TargetPolicy {
            allowed: Vec::new(),
            ..policy
        };
        assert_eq!(open.check(addr("169.254.169.254:80")), Ok(()));
        assert!(open.check(addr("127.0.0.2:6081")).is_err(), "loopback");
    }

    #[test]
    fn the_token_then_the_longest_prefix_then_the_default_decides() {
        let policy = policy();
        let ip = |text: &str| text.parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(
            policy.schemes_for(None, ip("10.1.2.3")),
            vec![AuthScheme::Vnc]
        );
        assert_eq!(
            policy.schemes_for(None, ip("10.2.2.3")),
            vec![AuthScheme::Vencrypt]
        );
        assert_eq!(policy.schemes_for(None, ip("192.0.2.1")), policy.schemes);
        assert_eq!(
            policy.schemes_for(Some(&[AuthScheme::None]), ip("10.1.2.3")),
            vec![AuthScheme::None]
        );
    }
}
