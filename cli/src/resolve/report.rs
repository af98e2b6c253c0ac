//! Why no solution exists, in sentences: our wording of PubGrub's derivation tree, with
//! packs named, requirements as ranges, conflicts called conflicts and the request as "you".

use pubgrub::{Derived, External, Map, Ranges, ReportFormatter, Term};
use semver::Version;

use super::provider::{Node, absent, family_of};

/// Formats failures for people.
pub(crate) struct Explain;

/// A range as people write it: the "not installed" sentinel never shows.
fn range(r: &Ranges<Version>) -> String {
    let sentinel = format!(">{}", absent());
    let text = r.to_string();
    match text.strip_prefix(&sentinel) {
        _ if *r == Ranges::full() => "(any version)".to_owned(),
        Some("") => "(any version)".to_owned(),
        Some(rest) => rest.trim_start_matches(", ").to_owned(),
        None => text,
    }
}

fn versioned(node: &Node, r: &Ranges<Version>) -> String {
    if *node == Node::BaseFamily {
        return match r.as_singleton() {
            Some(family) => format!("base family {}", family_of(family)),
            None => "a base family".to_owned(),
        };
    }
    match (node, range(r).as_str()) {
        (Node::Root, _) | (_, "(any version)") => node.to_string(),
        (Node::Pack(_) | Node::BaseFamily, shown) => format!("{node} {shown}"),
    }
}

impl Explain {
    fn dependency(&self, p: &Node, pr: &Ranges<Version>, d: &Node, dr: &Ranges<Version>) -> String {
        let who = match p {
            Node::Root => "you ask for".to_owned(),
            Node::Pack(_) => format!("{} needs", versioned(p, pr)),
            Node::BaseFamily => "the base family needs".to_owned(),
        };
        if *d == Node::BaseFamily {
            return format!("{} runs on {}", versioned(p, pr), versioned(d, dr));
        }
        if dr.contains(&absent()) {
            let forbidden = dr.complement();
            return format!(
                "{} conflicts with {d} {}",
                versioned(p, pr),
                range(&forbidden)
            );
        }
        format!("{who} {}", versioned(d, dr))
    }

    fn terms(&self, terms: &Map<Node, Term<Ranges<Version>>>) -> String {
        let list: Vec<_> = terms.iter().collect();
        match list.as_slice() {
            [] => "no set of packs satisfies the request".to_owned(),
            [(Node::Root, Term::Positive(_))] => "the request cannot be satisfied".to_owned(),
            [(p, Term::Positive(r))] => format!("{} cannot be used", versioned(p, r)),
            [(p, Term::Negative(r))] => format!("{} is required", versioned(p, r)),
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => {
                self.dependency(p1, r1, p2, r2)
            }
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .map(|(p, t)| match t {
                        Term::Positive(r) => versioned(p, r),
                        Term::Negative(r) => format!("not {}", versioned(p, r)),
                    })
                    .collect();
                format!("{} cannot all hold", parts.join(", "))
            }
        }
    }
}

impl ReportFormatter<Node, Ranges<Version>, String> for Explain {
    type Output = String;

    fn format_external(&self, external: &External<Node, Ranges<Version>, String>) -> String {
        match external {
            External::NotRoot(p, v) => format!("we are solving for {p} {v}"),
            External::NoVersions(p, r) if range(r) == "(any version)" => {
                format!(
                    "no installable version of {p} is published (missing, yanked or pre-release only)"
                )
            }
            External::NoVersions(p, r) => {
                format!("no installable version of {p} matches {}", range(r))
            }
            External::FromDependencyOf(p, pr, d, dr) => self.dependency(p, pr, d, dr),
            External::Custom(_, _, message) => message.clone(),
        }
    }

    fn format_terms(&self, terms: &Map<Node, Term<Ranges<Version>>>) -> String {
        self.terms(terms)
    }

    fn explain_both_external(
        &self,
        e1: &External<Node, Ranges<Version>, String>,
        e2: &External<Node, Ranges<Version>, String>,
        now: &Map<Node, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(e1),
            self.format_external(e2),
            self.terms(now)
        )
    }

    fn explain_both_ref(
        &self,
        id1: usize,
        d1: &Derived<Node, Ranges<Version>, String>,
        id2: usize,
        d2: &Derived<Node, Ranges<Version>, String>,
        now: &Map<Node, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} ({id1}) and {} ({id2}), {}.",
            self.terms(&d1.terms),
            self.terms(&d2.terms),
            self.terms(now)
        )
    }

    fn explain_ref_and_external(
        &self,
        id: usize,
        d: &Derived<Node, Ranges<Version>, String>,
        e: &External<Node, Ranges<Version>, String>,
        now: &Map<Node, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} ({id}) and {}, {}.",
            self.terms(&d.terms),
            self.format_external(e),
            self.terms(now)
        )
    }

    fn and_explain_external(
        &self,
        e: &External<Node, Ranges<Version>, String>,
        now: &Map<Node, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(e),
            self.terms(now)
        )
    }

    fn and_explain_ref(
        &self,
        id: usize,
        d: &Derived<Node, Ranges<Version>, String>,
        now: &Map<Node, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {} ({id}), {}.",
            self.terms(&d.terms),
            self.terms(now)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior: &External<Node, Ranges<Version>, String>,
        e: &External<Node, Ranges<Version>, String>,
        now: &Map<Node, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior),
            self.format_external(e),
            self.terms(now)
        )
    }
}
