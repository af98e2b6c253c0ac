use std::collections::HashMap;

use modularbase_pack::{BaseCompat, IndexDep, PackKind, Sha256Digest, SigningKey};

use super::*;

/// An in-memory index, built one version per line.
#[derive(Default)]
struct Index(HashMap<String, Vec<IndexRecord>>);

impl IndexSource for Index {
    fn records(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        Ok(self.0.get(id.as_str()).cloned().unwrap_or_default())
    }
}

fn deps(list: &[(&str, &str)]) -> Vec<IndexDep> {
    list.iter()
        .map(|(id, req)| IndexDep {
            id: id.parse().unwrap(),
            req: req.parse().unwrap(),
        })
        .collect()
}

impl Index {
    fn add(
        mut self,
        id: &str,
        vers: &str,
        kind: PackKind,
        dependencies: &[(&str, &str)],
        compat: &[&str],
        conflicts: &[(&str, &str)],
    ) -> Self {
        let key = SigningKey::from_seed([1; 32]);
        let (pack, version) = (id.parse().unwrap(), vers.parse().unwrap());
        let cksum = Sha256Digest::of(format!("{id}{vers}").as_bytes());
        let record = IndexRecord {
            sig: key.sign_pack(&pack, &version, &cksum),
            id: pack,
            vers: version,
            kind,
            deps: deps(dependencies),
            base: (kind != PackKind::Base).then(|| "tiny_base".parse().unwrap()),
            base_compat: compat
                .iter()
                .map(|c| c.parse::<BaseCompat>().unwrap())
                .collect(),
            conflicts: deps(conflicts),
            fallback: Vec::new(),
            cksum,
            key: key.public_key(),
            yanked: false,
            size: 1,
        };
        self.0.entry(id.to_owned()).or_default().push(record);
        self
    }

    fn base(self, vers: &str) -> Self {
        self.add("tiny_base", vers, PackKind::Base, &[], &[], &[])
    }

    fn domain(self, id: &str, vers: &str, dependencies: &[(&str, &str)]) -> Self {
        self.add(
            id,
            vers,
            PackKind::Domain,
            dependencies,
            &["1.0", "1.1", "1.2"],
            &[],
        )
    }

    fn yank(mut self, id: &str, vers: &str) -> Self {
        for r in self
            .0
            .get_mut(id)
            .unwrap()
            .iter_mut()
            .filter(|r| r.vers.to_string() == vers)
        {
            r.yanked = true;
        }
        self
    }
}

fn request(list: &[(&str, &str)]) -> Vec<(PackId, VersionReq)> {
    list.iter()
        .map(|(id, req)| (id.parse().unwrap(), req.parse().unwrap()))
        .collect()
}

fn solve(index: &Index, list: &[(&str, &str)]) -> Result<Vec<String>, String> {
    match resolve(index, &request(list), &BTreeMap::new()) {
        Ok(r) => Ok(r
            .packs
            .values()
            .map(|r| format!("{} {}", r.id, r.vers))
            .collect()),
        Err(e) => Err(e.to_string()),
    }
}

/// The DESIGN's graph: python_code needs reasoning >=1.1 and a base 1.0–1.2.
fn graph() -> Index {
    Index::default()
        .base("1.0.0")
        .base("1.1.0")
        .base("1.3.0")
        .domain("reasoning", "1.0.0", &[])
        .domain("reasoning", "1.1.0", &[])
        .domain("reasoning", "1.2.0", &[])
        .domain("reasoning", "2.0.0-rc.1", &[])
        .domain("python_code", "1.0.0", &[("reasoning", ">=1.1")])
}

#[test]
fn python_code_gets_the_newest_reasoning_and_a_compatible_base() {
    let plan = solve(&graph(), &[("python_code", "=1.0.0")]).unwrap();
    assert_eq!(
        plan,
        ["python_code 1.0.0", "reasoning 1.2.0", "tiny_base 1.1.0"]
    );
}

#[test]
fn yanked_versions_and_pre_releases_are_skipped_unless_asked_for() {
    let index = graph().yank("reasoning", "1.2.0");
    assert_eq!(
        solve(&index, &[("python_code", "*")]).unwrap()[1],
        "reasoning 1.1.0"
    );
    let plan = resolve(
        &index,
        &request(&[("reasoning", ">=2.0.0-rc.1")]),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(
        plan.packs[&"reasoning".parse::<PackId>().unwrap()]
            .vers
            .to_string(),
        "2.0.0-rc.1"
    );
}

#[test]
fn a_missing_dependency_is_explained() {
    let index =
        Index::default()
            .base("1.0.0")
            .domain("python_code", "1.0.0", &[("reasoning", ">=1.1")]);
    let err = solve(&index, &[("python_code", "*")]).unwrap_err();
    assert_eq!(
        err,
        "no set of packs satisfies the request:\nBecause no installable version of reasoning matches >=1.1.0 and python_code 1.0.0 needs reasoning >=1.1.0, python_code 1.0.0 cannot be used.\nAnd because no installable version of python_code matches <1.0.0 | >1.0.0 and you ask for python_code, the request cannot be satisfied."
    );
}

#[test]
fn a_base_no_version_supports_is_explained() {
    let index = Index::default()
        .base("2.0.0")
        .domain("reasoning", "1.0.0", &[]);
    let err = solve(&index, &[("reasoning", "*")]).unwrap_err();
    assert!(
        err.contains("reasoning 1.0.0 needs tiny_base >=1.0.0, <1.3.0"),
        "{err}"
    );
    assert!(
        err.contains("no installable version of tiny_base matches >=1.0.0, <1.3.0"),
        "{err}"
    );
}

#[test]
fn two_packs_needing_disjoint_ranges_of_a_third_are_explained() {
    let index = graph().domain("medical", "1.0.0", &[("reasoning", "<1.1")]);
    let err = solve(&index, &[("python_code", "*"), ("medical", "*")]).unwrap_err();
    assert!(
        err.contains("python_code 1.0.0 needs reasoning >=1.1.0"),
        "{err}"
    );
    assert!(
        err.contains("medical 1.0.0 needs reasoning <1.1.0"),
        "{err}"
    );
}

#[test]
fn a_declared_conflict_is_honoured_and_explained() {
    let index = graph()
        .add(
            "legacy_python",
            "1.0.0",
            PackKind::Domain,
            &[],
            &["1.0"],
            &[],
        )
        .add(
            "modern_python",
            "1.0.0",
            PackKind::Domain,
            &[],
            &["1.0"],
            &[("legacy_python", "*")],
        );
    // Alone, the conflicting pack is not installed.
    assert_eq!(
        solve(&index, &[("modern_python", "*")]).unwrap(),
        ["modern_python 1.0.0", "tiny_base 1.0.0"]
    );
    let err = solve(&index, &[("modern_python", "*"), ("legacy_python", "*")]).unwrap_err();
    assert!(
        err.contains("modern_python 1.0.0 conflicts with legacy_python"),
        "{err}"
    );
}

#[test]
fn locked_versions_are_kept_even_when_yanked_since() {
    let index = graph().yank("reasoning", "1.1.0");
    let locked: BTreeMap<PackId, semver::Version> =
        [("reasoning".parse().unwrap(), "1.1.0".parse().unwrap())].into();
    let plan = resolve(&index, &request(&[("python_code", "*")]), &locked).unwrap();
    assert_eq!(
        plan.packs[&"reasoning".parse::<PackId>().unwrap()]
            .vers
            .to_string(),
        "1.1.0"
    );
    let fresh = resolve(&index, &request(&[("python_code", "*")]), &BTreeMap::new()).unwrap();
    assert_eq!(
        fresh.packs[&"reasoning".parse::<PackId>().unwrap()]
            .vers
            .to_string(),
        "1.2.0"
    );
}

/// An index that records each batch of packs the resolver asks it to prefetch.
struct Prefetching {
    index: Index,
    batches: std::cell::RefCell<Vec<Vec<String>>>,
}

impl IndexSource for Prefetching {
    fn records(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        self.index.records(id)
    }

    fn prefetch(&self, ids: &[PackId]) {
        let mut batch: Vec<String> = ids.iter().map(ToString::to_string).collect();
        batch.sort();
        self.batches.borrow_mut().push(batch);
    }
}

#[test]
fn dependencies_base_and_conflicts_are_prefetched_together_once() {
    let index = graph().add(
        "modern_python",
        "1.0.0",
        PackKind::Domain,
        &[("reasoning", "*")],
        &["1.0"],
        &[("legacy_python", "*")],
    );
    let source = Prefetching {
        index,
        batches: Default::default(),
    };
    resolve(
        &source,
        &request(&[("modern_python", "*")]),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(
        source.batches.into_inner(),
        [
            vec!["modern_python"],
            vec!["legacy_python", "reasoning", "tiny_base"]
        ]
    );
}
