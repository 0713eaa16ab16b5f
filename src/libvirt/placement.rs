//! Which hypervisor's domain a token reaches when several were asked. No I/O.
//!
//! A guest that moved is defined, shut off, where it was and runs where it is now: the running
//! one wins. During a live migration both run, the destination paused: the one not paused wins.
//! Two running domains with the same name and different UUIDs are two guests, and opening
//! either could show a person someone else's screen: that is refused, and the token must name
//! the hypervisor or the UUID.

use super::error::Error;
use super::target::Hypervisor;

/// What one hypervisor says about a domain.
#[derive(Debug)]
pub(super) enum Presence {
    /// It has no such domain.
    Absent,
    /// It has it, shut off (or crashed, suspended to disk).
    Stopped,
    /// It runs it.
    Running(Live),
}

/// A running domain.
#[derive(Debug)]
pub(super) struct Live {
    /// Its UUID: the same guest on two hypervisors has the same.
    pub uuid: String,
    /// Paused (an incoming migration, or by its owner).
    pub paused: bool,
    /// Its live XML.
    pub xml: String,
}

/// The running domain a token reaches, from each asked hypervisor's answer.
///
/// # Errors
/// Nowhere running: not running if some hypervisor has it shut off, else unknown; a hypervisor
/// that could not be asked is told rather than either (the guest may run there). Running as
/// two different guests: ambiguous.
pub(super) fn place<'a>(
    domain: &str,
    answers: impl IntoIterator<Item = (&'a Hypervisor, Result<Presence, Error>)>,
) -> Result<(&'a Hypervisor, Live), Error> {
    let mut running: Vec<(&Hypervisor, Live)> = Vec::new();
    let mut stopped = false;
    let mut failure = None;
    for (hypervisor, answer) in answers {
        match answer {
            Ok(Presence::Absent) => {}
            Ok(Presence::Stopped) => stopped = true,
            Ok(Presence::Running(live)) => running.push((hypervisor, live)),
            Err(error) => failure = Some(error),
        }
    }
    if let Some((_, first)) = running.first() {
        if running.iter().any(|(_, live)| live.uuid != first.uuid) {
            return Err(Error::Ambiguous(domain.to_owned()));
        }
        let at = running
            .iter()
            .position(|(_, live)| !live.paused)
            .unwrap_or(0);
        return Ok(running.swap_remove(at));
    }
    Err(match (failure, stopped) {
        (Some(error), _) => error,
        (None, true) => Error::NotRunning,
        (None, false) => Error::Unknown(domain.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hypervisor(name: &str) -> Hypervisor {
        Hypervisor {
            name: name.into(),
            uri: format!("qemu+tls://{name}/system"),
            vnc_tls: false,
        }
    }

    fn running(uuid: &str, paused: bool) -> Result<Presence, Error> {
        Ok(Presence::Running(Live {
            uuid: uuid.into(),
            paused,
            xml: String::new(),
        }))
    }

    const A: &str = "5a1d0c7e-0000-4000-8000-00000000000a";
    const B: &str = "5a1d0c7e-0000-4000-8000-00000000000b";

    #[test]
    fn a_moved_guest_is_found_where_it_runs() {
        let (kvm1, kvm2) = (hypervisor("kvm1"), hypervisor("kvm2"));
        let (at, _) = place(
            "web",
            [(&kvm1, Ok(Presence::Stopped)), (&kvm2, running(A, false))],
        )
        .expect("found");
        assert_eq!(at.name, "kvm2");
        // Mid-migration: the running source, not the paused destination.
        let (at, _) = place(
            "web",
            [(&kvm1, running(A, true)), (&kvm2, running(A, false))],
        )
        .expect("found");
        assert_eq!(at.name, "kvm2");
    }

    #[test]
    fn two_guests_of_one_name_are_refused() {
        let (kvm1, kvm2) = (hypervisor("kvm1"), hypervisor("kvm2"));
        let placed = place(
            "web",
            [(&kvm1, running(A, false)), (&kvm2, running(B, false))],
        );
        assert!(matches!(placed, Err(Error::Ambiguous(_))));
    }

    #[test]
    fn nowhere_running() {
        let (kvm1, kvm2) = (hypervisor("kvm1"), hypervisor("kvm2"));
        let placed = place(
            "web",
            [
                (&kvm1, Ok(Presence::Stopped)),
                (&kvm2, Ok(Presence::Absent)),
            ],
        );
        assert!(matches!(placed, Err(Error::NotRunning)));
        let placed = place("web", [(&kvm1, Ok(Presence::Absent))]);
        assert!(matches!(placed, Err(Error::Unknown(_))));
        // Shut off on one, the other not answering: it may run there.
        let placed = place(
            "web",
            [
                (&kvm1, Ok(Presence::Stopped)),
                (&kvm2, Err(Error::Timeout("kvm2".into()))),
            ],
        );
        assert!(matches!(placed, Err(Error::Timeout(_))));
    }
}
