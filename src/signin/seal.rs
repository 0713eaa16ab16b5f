//! Cookies only this proxy (and its cluster, with the same key) can read or make: AES-256-GCM
//! with the cookie's name as associated data (the `cookie` crate's private jar), so that a
//! value cannot be read, changed, or moved to another cookie's name.

use cookie::{Cookie, CookieJar, Key};

/// The sealing key.
pub(super) struct Seal {
    key: Key,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Seal")
    }
}

impl Seal {
    /// A key derived from `master` (HKDF), or `None` when it is shorter than 32 bytes.
    pub(super) fn new(master: &[u8]) -> Option<Self> {
        // `Key::derive_from` panics on a short master key: checked first.
        (master.len() >= 32).then(|| Self {
            key: Key::derive_from(master),
        })
    }

    /// `value` sealed for the cookie `name`.
    pub(super) fn seal(&self, name: &str, value: String) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key)
            .add(Cookie::new(name.to_owned(), value));
        jar.get(name)
            .map(|cookie| cookie.value().to_owned())
            .unwrap_or_default()
    }

    /// The value sealed in `sealed` for the cookie `name`; `None` when it was not sealed with
    /// this key for this name, or was changed.
    pub(super) fn open(&self, name: &str, sealed: &str) -> Option<String> {
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(name.to_owned(), sealed.to_owned()));
        jar.private(&self.key)
            .get(name)
            .map(|cookie| cookie.value().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_as_sealed() {
        let seal = Seal::new(&[7; 32]).expect("key");
        let sealed = seal.seal("a", "who=alice".into());
        assert!(!sealed.contains("alice"));
        assert_eq!(seal.open("a", &sealed).as_deref(), Some("who=alice"));
        // Another name, another key, one changed character: nothing.
        assert_eq!(seal.open("b", &sealed), None);
        let other = Seal::new(&[8; 32]).expect("key");
        assert_eq!(other.open("a", &sealed), None);
        let mut changed = sealed.into_bytes();
        changed[10] = if changed[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            seal.open("a", &String::from_utf8(changed).expect("ascii")),
            None
        );
        assert!(Seal::new(&[1; 31]).is_none());
    }
}
