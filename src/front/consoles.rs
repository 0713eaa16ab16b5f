//! `/consoles`: what the signed-in person may open under `[vncgate] access_policy` (labelled
//! token-file entries, libvirt domains with their state; VNC, and serial when the serial port
//! is enabled), and `/consoles/open`, which mints a single-use token for that person alone, good
//! for a minute, and sends the browser to the console page (or the serial port's page) with it.
//! The policy is asked again when the console is opened.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::context::Front;
use super::response::Body;
use crate::access::{Console, Granted};
use crate::console::{ConsoleKind, Reach, Target};
use crate::ops::audit::{Event, Kind};
use crate::signin::page::{escape, html, SIGN_OUT};
use crate::signin::{redirect, Identity};
use crate::token::issue::{mint, Request as Mint};
use crate::token::{Grant, Person};

/// How long a minted token may wait for its session.
const MINTED_FOR: Duration = Duration::from_secs(60);

/// The answer to `request` if its path is `/consoles` or `/consoles/open` and sign-in is on.
pub(super) async fn serve(front: &Front, request: &Request<Incoming>) -> Option<Response<Body>> {
    let signin = front.signin.as_ref()?;
    let path = request.uri().path();
    if path != "/consoles" && path != "/consoles/open" {
        return None;
    }
    let response = match signin.identity(request.headers()) {
        None => redirect("/login?next=/consoles"),
        Some(identity) if path == "/consoles" => list(front, &identity).await,
        Some(identity) => open(front, &identity, request.uri()).await,
    };
    Some(response.map(|body| {
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync()
    }))
}

/// The page: each console granted, with a link that opens it.
async fn list(front: &Front, identity: &Identity) -> Response<String> {
    let mut rows = Vec::new();
    let mut unlisted = false;
    if let Some(policy) = front.access_policy.as_deref() {
        for (label, grant) in front.tokens.labelled().await {
            if openable(front, grant.kind)
                && policy.grant(identity, Console::Label(&label)).is_some()
            {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("label", &label)
                    .append_pair("console", grant.kind.nova_name())
                    .finish();
                rows.push(row(&label, kind_name(grant.kind), Some(&query)));
            }
        }
        unlisted = domain_rows(front, identity, policy, &mut rows).await;
    }
    let who = identity.email.as_deref().unwrap_or(&identity.sub);
    let listing = if rows.is_empty() {
        "<p role=status>No console is granted to you.</p>".to_owned()
    } else {
        format!("<ul>{}</ul>", rows.concat())
    };
    let unlisted = if unlisted {
        "<p>Some virtual machines cannot be listed now: a hypervisor does not answer.</p>"
    } else {
        ""
    };
    html(
        StatusCode::OK,
        format!(
            "<h1>Consoles</h1><p id=who>Signed in as {} (groups: {}).</p>{listing}{unlisted}{SIGN_OUT}",
            escape(who),
            if identity.groups.is_empty() {
                "none".to_owned()
            } else {
                escape(&identity.groups.join(", "))
            }
        ),
    )
}

/// The rows of the libvirt domains the policy grants `identity`; whether a hypervisor could
/// not be listed.
async fn domain_rows(
    front: &Front,
    identity: &Identity,
    policy: &crate::access::Policy,
    rows: &mut Vec<String>,
) -> bool {
    let mut unlisted = false;
    if let Some(inventory) = &front.libvirt {
        for (hypervisor, listed) in inventory.list().await {
            let Ok(domains) = listed else {
                unlisted = true;
                continue;
            };
            for domain in domains {
                if policy
                    .grant(identity, Console::Domain(&domain.name))
                    .is_none()
                {
                    continue;
                }
                let query = |kind: ConsoleKind| {
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("domain", &domain.name)
                        .append_pair("hypervisor", &hypervisor.name)
                        .append_pair("console", kind.nova_name())
                        .finish()
                };
                let serial =
                    domain.consoles.serial.is_some() && openable(front, ConsoleKind::Serial);
                match (domain.running, domain.consoles.vnc.is_some(), serial) {
                    (false, _, _) => rows.push(row(&domain.name, "not running", None)),
                    (true, false, false) => {
                        rows.push(row(&domain.name, "running, no console", None));
                    }
                    (true, vnc, serial) => {
                        if vnc {
                            let open = query(ConsoleKind::Novnc);
                            rows.push(row(&domain.name, "running, screen", Some(&open)));
                        }
                        if serial {
                            let open = query(ConsoleKind::Serial);
                            rows.push(row(&domain.name, "running, serial", Some(&open)));
                        }
                    }
                }
            }
        }
    }
    unlisted
}

/// Whether consoles of `kind` can be opened from here: VNC, and serial with a serial port.
fn openable(front: &Front, kind: ConsoleKind) -> bool {
    match kind {
        ConsoleKind::Novnc => true,
        ConsoleKind::Serial => front.serial_page.is_some(),
        _ => false,
    }
}

fn kind_name(kind: ConsoleKind) -> &'static str {
    if kind == ConsoleKind::Serial {
        "serial"
    } else {
        "screen"
    }
}

fn row(name: &str, state: &str, open: Option<&str>) -> String {
    let state = if state.is_empty() {
        String::new()
    } else {
        format!(" <span>({state})</span>")
    };
    let link = open.map_or_else(String::new, |query| {
        format!(" <a href=\"/consoles/open?{}\">Open</a>", escape(query))
    });
    format!("<li>{}{state}{link}</li>", escape(name))
}

/// Mints a token for `identity` on the console the query names, if the policy grants it.
async fn open(front: &Front, identity: &Identity, uri: &http::Uri) -> Response<String> {
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let value = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let kind = value("console")
        .as_deref()
        .map_or(Some(ConsoleKind::Novnc), ConsoleKind::from_nova_name)
        .filter(|kind| openable(front, *kind));
    let granted = match (kind, value("label"), value("domain"), value("hypervisor")) {
        (Some(kind), Some(label), None, None) => labelled(front, identity, &label, kind).await,
        (Some(kind), None, Some(domain), Some(hypervisor)) => {
            domain_console(front, identity, &domain, &hypervisor, kind)
        }
        _ => None,
    };
    let Some((grant, granted)) = granted else {
        tracing::info!(user = %identity.sub, "refused: a console the access policy does not grant");
        front.refused_person(identity, crate::token::RefusalReason::NotGranted);
        return html(
            StatusCode::FORBIDDEN,
            "<p role=status>This console is not granted to you.</p><p><a href=\"/consoles\">Your consoles</a></p>".into(),
        );
    };
    let Some(store) = front.tokens.sql() else {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "<p role=status>No token database to open consoles with.</p>".into(),
        );
    };
    let request = minted(front, identity, grant, &granted);
    match mint(store, &request).await {
        Ok(token) => {
            minted_event(front, identity, &granted, &request.target);
            let path = format!("?token={}", token.expose());
            let encoded: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
            match (&request.kind, &front.serial_page) {
                (ConsoleKind::Serial, Some(origin)) => {
                    redirect(&format!("{origin}/serial.html?path={encoded}"))
                }
                _ => redirect(&format!("/console.html?path={encoded}")),
            }
        }
        Err(error) => {
            tracing::warn!(error = %crate::chain::chain(&error), "a console could not be opened");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                "<p role=status>The console cannot be opened now; try again.</p>".into(),
            )
        }
    }
}

/// The labelled entry `label` of `kind`, if the policy grants it.
async fn labelled(
    front: &Front,
    identity: &Identity,
    label: &str,
    kind: ConsoleKind,
) -> Option<(Grant, Granted)> {
    let policy = front.access_policy.as_deref()?;
    let granted = policy.grant(identity, Console::Label(label))?;
    let (_, grant) = front
        .tokens
        .labelled()
        .await
        .into_iter()
        .find(|(own, grant)| own == label && grant.kind == kind)?;
    Some((grant, granted))
}

/// The domain `name` on `hypervisor`, if the policy grants it.
fn domain_console(
    front: &Front,
    identity: &Identity,
    name: &str,
    hypervisor: &str,
    kind: ConsoleKind,
) -> Option<(Grant, Granted)> {
    let policy = front.access_policy.as_deref()?;
    let granted = policy.grant(identity, Console::Domain(name))?;
    let target = Target {
        host: format!("libvirt://{hypervisor}/{name}"),
        port: 0,
    };
    crate::libvirt::DomainRef::of(&target)?;
    let grant = Grant {
        kind,
        ..Grant::direct(target)
    };
    Some((grant, granted))
}

/// The token to mint: the entry's settings narrowed by the policy, for this person alone.
fn minted(front: &Front, identity: &Identity, mut grant: Grant, granted: &Granted) -> Mint {
    grant.narrow(granted.narrowing);
    let policy = front.sessions.policy(&grant);
    let record = grant.record_wanted();
    Mint {
        kind: grant.kind,
        target: grant.target,
        tls_port: grant.tls_port,
        view_only: policy.view_only,
        clipboard: Some(policy.clipboard),
        reach: Reach::Direct,
        ttl: MINTED_FOR,
        instance_uuid: None,
        single_use: true,
        record,
        person: Some(Person {
            sub: identity.sub.clone(),
            // Filled in from the browser's session at admission: nova's column is 255 long.
            email: None,
            rule: Some(granted.rule.clone()),
        }),
    }
}

fn minted_event(front: &Front, identity: &Identity, granted: &Granted, target: &Target) {
    if let Some(audit) = &front.audit {
        let mut event = Event::now(Kind::TokenIssued);
        event.user = Some(identity.sub.clone());
        event.email.clone_from(&identity.email);
        event.rule = Some(granted.rule.clone());
        event.target = Some(target.to_string());
        audit.record(&event);
    }
}
