//! `[vncgate] access_policy`: who may open which console. No I/O: the file's text comes in.
//!
//! ```toml
//! [[rules]]
//! name = "ops-web"
//! groups = ["ops"]            # and/or users = ["alice@example.org"] (a sub or an e-mail)
//! labels = ["alpha"]          # token-file entries with label=alpha
//! domains = ["web-*"]         # libvirt domain names or globs
//! projects = ["8c1f…"]        # nova project IDs (instances.project_id)
//! view_only = false           # optional narrowing: view_only, clipboard, record
//! ```
//!
//! A rule applies to a person named in `users` (by `sub` or e-mail) or in one of its `groups`,
//! and grants the consoles its `labels`, `domains` and `projects` name. A narrowing only ever
//! narrows: `view_only = false` leaves a watch link a watch link. When several rules grant the same
//! console, the most restrictive wins: view-only if any says so, the narrowest clipboard, and
//! recorded if any says so.

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use crate::console::Clipboard;
use crate::signin::Identity;

/// The policy, as the file says.
#[derive(Debug, Default)]
pub struct Policy {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    name: String,
    groups: Vec<String>,
    users: Vec<String>,
    labels: Vec<String>,
    domains: Vec<GlobMatcher>,
    projects: Vec<String>,
    narrowing: Narrowing,
}

/// What a rule may narrow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Narrowing {
    /// Sessions may only watch.
    pub view_only: Option<bool>,
    /// Which way the clipboard may flow.
    pub clipboard: Option<Clipboard>,
    /// Sessions are recorded.
    pub record: Option<bool>,
}

/// A console a person may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console<'a> {
    /// A libvirt domain, by name.
    Domain(&'a str),
    /// A token-file entry, by its `label=`.
    Label(&'a str),
    /// A nova instance, by its project's ID.
    Project(&'a str),
}

/// What the policy grants a person on one console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The first rule that grants it (for the audit trail).
    pub rule: String,
    /// The most restrictive narrowing of every rule that grants it.
    pub narrowing: Narrowing,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rules: Vec<RuleText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleText {
    name: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    projects: Vec<String>,
    view_only: Option<bool>,
    clipboard: Option<String>,
    record: Option<bool>,
}

impl Policy {
    /// The policy in `text`.
    ///
    /// # Errors
    /// A message naming the rule and what is wrong: not TOML, an unknown key, a bad glob or
    /// clipboard name, a rule for nobody or granting nothing, two rules of one name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|error| error.message().to_owned())?;
        let mut rules: Vec<Rule> = Vec::new();
        for rule in file.rules {
            let name = rule.name.clone();
            let problem = |what: String| format!("rule {name:?}: {what}");
            if rules.iter().any(|other| other.name == name) {
                return Err(problem("another rule has this name".into()));
            }
            if rule.groups.is_empty() && rule.users.is_empty() {
                return Err(problem(
                    "names no users and no groups: it would apply to nobody".into(),
                ));
            }
            if rule.labels.is_empty() && rule.domains.is_empty() && rule.projects.is_empty() {
                return Err(problem(
                    "grants no labels, no domains and no projects".into(),
                ));
            }
            let domains = rule
                .domains
                .iter()
                .map(|glob| {
                    Glob::new(glob)
                        .map(|glob| glob.compile_matcher())
                        .map_err(|error| problem(format!("domain {glob:?}: {error}")))
                })
                .collect::<Result<_, _>>()?;
            let clipboard = match &rule.clipboard {
                Some(name) => Some(Clipboard::parse(name).map_err(problem)?),
                None => None,
            };
            rules.push(Rule {
                name: rule.name,
                groups: rule.groups,
                users: rule.users,
                labels: rule.labels,
                domains,
                projects: rule.projects,
                narrowing: Narrowing {
                    view_only: rule.view_only,
                    clipboard,
                    record: rule.record,
                },
            });
        }
        Ok(Self { rules })
    }

    /// Whether a rule grants by nova project: then, under `require_login`, a nova token opens
    /// only for a person granted its instance's project.
    pub fn names_projects(&self) -> bool {
        self.rules.iter().any(|rule| !rule.projects.is_empty())
    }

    /// What `person` is granted on `console`, if anything.
    pub fn grant(&self, person: &Identity, console: Console<'_>) -> Option<Granted> {
        let mut granting = self
            .rules
            .iter()
            .filter(|rule| rule.applies_to(person) && rule.grants(console));
        let first = granting.next()?;
        let narrowing = granting.fold(first.narrowing, |most, rule| most.tighter(rule.narrowing));
        Some(Granted {
            rule: first.name.clone(),
            narrowing,
        })
    }
}

impl Rule {
    fn applies_to(&self, person: &Identity) -> bool {
        let named = self
            .users
            .iter()
            .any(|user| *user == person.sub || person.email.as_deref() == Some(user.as_str()));
        named
            || self
                .groups
                .iter()
                .any(|group| person.groups.contains(group))
    }

    fn grants(&self, console: Console<'_>) -> bool {
        match console {
            Console::Domain(name) => self.domains.iter().any(|glob| glob.is_match(name)),
            Console::Label(label) => self.labels.iter().any(|own| own == label),
            Console::Project(project) => self.projects.iter().any(|own| own == project),
        }
    }
}

impl Narrowing {
    /// The more restrictive of both, setting by setting.
    pub fn tighter(self, other: Self) -> Self {
        let either = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (None, None) => None,
            _ => Some(false),
        };
        Self {
            view_only: either(self.view_only, other.view_only),
            record: either(self.record, other.record),
            clipboard: match (self.clipboard, other.clipboard) {
                (Some(a), Some(b)) => Some(a.narrowest(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        [[rules]]
        name = "ops-web"
        groups = ["ops"]
        domains = ["web-*"]
        labels = ["alpha"]

        [[rules]]
        name = "auditors"
        users = ["carol@example.org"]
        domains = ["*"]
        view_only = true
        clipboard = "none"

        [[rules]]
        name = "ops-watch-db"
        groups = ["ops"]
        domains = ["db-1"]
        view_only = true
        clipboard = "from-guest"
        record = true
    "#;

    fn person(sub: &str, email: &str, groups: &[&str]) -> Identity {
        Identity {
            sub: sub.into(),
            email: Some(email.into()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            until: u64::MAX,
        }
    }

    #[test]
    fn rules_grant_by_group_user_glob_and_label() {
        let policy = Policy::parse(FILE).expect("policy");
        let alice = person("alice", "alice@example.org", &["ops"]);
        let granted = policy
            .grant(&alice, Console::Domain("web-2"))
            .expect("web-2");
        assert_eq!(granted.rule, "ops-web");
        assert_eq!(granted.narrowing, Narrowing::default());
        assert!(policy.grant(&alice, Console::Label("alpha")).is_some());
        assert!(policy.grant(&alice, Console::Domain("mail-1")).is_none());
        assert!(policy.grant(&alice, Console::Label("beta")).is_none());
        // By e-mail, not by a group of that name.
        let carol = person("c-123", "carol@example.org", &[]);
        assert!(policy.grant(&carol, Console::Domain("mail-1")).is_some());
        let mallory = person(
            "carol@example.org-not",
            "m@example.org",
            &["carol@example.org"],
        );
        assert!(policy.grant(&mallory, Console::Domain("mail-1")).is_none());
    }

    #[test]
    fn the_most_restrictive_rule_wins() {
        let policy = Policy::parse(FILE).expect("policy");
        let both = person("alice", "carol@example.org", &["ops"]);
        let granted = policy.grant(&both, Console::Domain("db-1")).expect("db-1");
        assert_eq!(granted.rule, "auditors");
        assert_eq!(
            granted.narrowing,
            Narrowing {
                view_only: Some(true),
                clipboard: Some(Clipboard::None),
                record: Some(true),
            }
        );
    }

    #[test]
    fn projects_are_granted_by_their_id_alone() {
        let policy = Policy::parse(FILE).expect("policy");
        assert!(!policy.names_projects());
        let text = "[[rules]]\nname = \"tenant-a\"\ngroups = [\"a\"]\nprojects = [\"p-a\"]\n";
        let policy = Policy::parse(text).expect("projects");
        assert!(policy.names_projects());
        let member = person("m", "m@example.org", &["a"]);
        let other = person("o", "o@example.org", &["b"]);
        assert!(policy.grant(&member, Console::Project("p-a")).is_some());
        assert!(policy.grant(&member, Console::Project("p-b")).is_none());
        assert!(policy.grant(&other, Console::Project("p-a")).is_none());
        // A project ID is not a label of the same text.
        assert!(policy.grant(&member, Console::Label("p-a")).is_none());
    }

    #[test]
    fn the_shipped_example_loads() {
        let policy = Policy::parse(include_str!("../../conf/access-policy.toml")).expect("example");
        let carol = person("c-1", "carol@example.org", &["web"]);
        let granted = policy
            .grant(&carol, Console::Domain("web-3"))
            .expect("web-3");
        assert_eq!(granted.narrowing.clipboard, Some(Clipboard::None));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (text, wanted) in [
            ("[[rules]]\nname = \"x\"\ndomains = [\"a\"]\n", "apply to nobody"),
            ("[[rules]]\nname = \"x\"\ngroups = [\"g\"]\n", "grants no labels"),
            ("[[rules]]\nname = \"x\"\ngroups = [\"g\"]\ndomains = [\"[\"]\n", "domain \"[\""),
            ("[[rules]]\nname = \"x\"\ngroups = [\"g\"]\nlabels = [\"l\"]\nclipboard = \"up\"\n", "clipboard"),
            ("[[rules]]\nname = \"x\"\ngroups = [\"g\"]\nlabels = [\"l\"]\ncolour = 1\n", "colour"),
            ("[[rules]]\nname = \"x\"\ngroups = [\"g\"]\nlabels = [\"l\"]\n[[rules]]\nname = \"x\"\ngroups = [\"g\"]\nlabels = [\"l\"]\n", "another rule"),
        ] {
            let error = Policy::parse(text).expect_err(text);
            assert!(error.contains(wanted), "{text}: {error}");
        }
    }
}
