//! Which way a console's clipboard may flow. No I/O.

use std::fmt;

/// The clipboard directions a session allows: the `clipboard=` of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clipboard {
    /// Both ways, as the console server allows.
    #[default]
    Both,
    /// Only from the browser to the guest (ClientCutText).
    ToGuest,
    /// Only from the guest to the browser (ServerCutText).
    FromGuest,
    /// Neither way.
    None,
}

impl Clipboard {
    /// Every value, in the order the help text lists them.
    pub const ALL: [Self; 4] = [Self::Both, Self::ToGuest, Self::FromGuest, Self::None];

    /// The name in token files, the CLI, the admin API and configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::ToGuest => "to-guest",
            Self::FromGuest => "from-guest",
            Self::None => "none",
        }
    }

    /// What both allow: the directions they share.
    pub fn narrowest(self, other: Self) -> Self {
        match (self, other) {
            (Self::Both, other) | (other, Self::Both) => other,
            (a, b) if a == b => a,
            _ => Self::None,
        }
    }

    /// The value named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.name() == name)
    }

    /// The value named `name`, or an error that lists the names.
    ///
    /// # Errors
    /// Another name.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|value| value.name()).collect();
            format!(
                "{name:?} is not a clipboard direction; accepted values: {}",
                names.join(", ")
            )
        })
    }

    /// Whether the browser's clipboard text may reach the guest.
    pub fn to_guest(self) -> bool {
        matches!(self, Self::Both | Self::ToGuest)
    }

    /// Whether the guest's clipboard text may reach the browser.
    pub fn from_guest(self) -> bool {
        matches!(self, Self::Both | Self::FromGuest)
    }
}

impl<'de> serde::Deserialize<'de> for Clipboard {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Clipboard {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_directions_follow() {
        for value in Clipboard::ALL {
            assert_eq!(Clipboard::from_name(value.name()), Some(value));
        }
        assert_eq!(Clipboard::from_name("To-Guest"), None);
        assert!(Clipboard::ToGuest.to_guest() && !Clipboard::ToGuest.from_guest());
        assert!(!Clipboard::FromGuest.to_guest() && Clipboard::FromGuest.from_guest());
        assert!(!Clipboard::None.to_guest() && !Clipboard::None.from_guest());
        assert!(Clipboard::Both.to_guest() && Clipboard::Both.from_guest());
    }
}
