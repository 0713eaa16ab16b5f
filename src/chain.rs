//! An error with its causes in one line. Each error's `Display` says only its own level and
//! keeps its cause as `source()`; logs and messages print the whole chain with [`chain`].

/// An error with its causes, `outer: inner: innermost`, for logs and messages: each error's
/// `Display` says only its own level, and its cause is its `source()`.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(formatter, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// `error` with its causes, as [`Chain`] prints them.
pub fn chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
    Chain(error)
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect to the console server")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn each_level_is_printed_once() {
        let error = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(
            chain(&error).to_string(),
            "cannot connect to the console server: connection refused"
        );
        assert_eq!(
            format!("{:#}", anyhow::Error::new(error)),
            "cannot connect to the console server: connection refused"
        );
    }
}
