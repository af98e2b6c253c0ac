//! Resolver benchmark: `modularbase::resolve` (PubGrub over the index records, as the CLI
//! runs it) against pubgrub's own `OfflineDependencyProvider` on the same graphs. Each graph's
//! (pack, version) pairs are resolved one by one as the root (`pack =version`); the whole loop
//! is timed for each side, and both sides must find the same roots solvable.
//!
//! Run with:
//! `cargo build --release -p modularbase-bench --bin resolver && target/release/resolver [--quick] [--sizes 1000,10000] [--graph PATH] [--max-roots N] [--runs N] [--json PATH]`

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use modularbase::{IndexSource, ResolveError, resolve};
use modularbase_bench::measure::{alternate, millis};
use modularbase_bench::{load_average, machine};
use modularbase_pack::{IndexDep, IndexRecord, PackId, PackKind, Sha256Digest, SigningKey};
use pubgrub::{DefaultStringReporter, OfflineDependencyProvider, PubGrubError, Ranges, Reporter};
use semver::{Comparator, Op, Version, VersionReq};

/// Command-line options.
#[derive(clap::Parser)]
#[command(about = "modularbase::resolve against pubgrub's OfflineDependencyProvider")]
struct Options {
    /// Smaller generated graphs (about 200 and 2,000 versions) and fewer runs.
    #[arg(long)]
    quick: bool,
    /// Sizes (about this many versions) of the generated graphs, a deep chain and a wide
    /// fan-out of each: 1000,10000 by default, 200,2000 with `--quick`.
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Also benchmark the graph in this JSON file:
    /// `{"pack": {"1.0.0": {"dep": ">=2.0.0, <3.0.0"}}}`.
    #[arg(long)]
    graph: Option<PathBuf>,
    /// At most this many roots per graph, evenly spaced over all (pack, version) pairs.
    #[arg(long, default_value_t = 200)]
    max_roots: usize,
    /// Timed runs per side (the median is kept); 5, or 3 with `--quick`.
    #[arg(long)]
    runs: Option<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Dependencies of one version: (pack name, cargo requirement).
type Deps = Vec<(String, VersionReq)>;

/// A dependency graph: pack name → version → dependencies.
struct Graph {
    /// What the table calls it.
    name: String,
    /// The versions of every pack and what each needs.
    packs: BTreeMap<String, BTreeMap<Version, Deps>>,
}

impl Graph {
    /// Total versions over all packs.
    fn versions(&self) -> usize {
        self.packs.values().map(BTreeMap::len).sum()
    }
}

/// A small seeded xorshift, so the generated graphs are the same every run.
struct Rng(u64);

impl Rng {
    /// The next value below `n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The versions every generated pack has: 1.0.0–1.4.0 and 2.0.0–2.4.0.
fn generated_versions() -> Vec<Version> {
    (1..=2)
        .flat_map(|major| (0..5).map(move |minor| Version::new(major, minor, 0)))
        .collect()
}

/// Parses a requirement written by the generator.
fn req(text: &str) -> Result<VersionReq> {
    text.parse()
        .with_context(|| format!("requirement {text:?}"))
}

/// Deep chain of `total / 10` packs `p0..pN`: each version `M.m.0` of `p_i` needs
/// `p_{i+1} ^M.r` (a seeded `r` in 0..5), or `^M.5`, which no version meets, one time in ten.
fn deep_chain(total: usize) -> Result<Graph> {
    let versions = generated_versions();
    let count = (total / versions.len()).max(2);
    let mut rng = Rng(0x5eed_c4a1);
    let mut packs = BTreeMap::new();
    for i in 0..count {
        let mut by_version = BTreeMap::new();
        for version in &versions {
            let mut deps = Vec::new();
            if i + 1 < count {
                let minor = if rng.below(10) == 0 { 5 } else { rng.below(5) };
                deps.push((
                    format!("p{}", i + 1),
                    req(&format!("^{}.{minor}", version.major))?,
                ));
            }
            by_version.insert(version.clone(), deps);
        }
        packs.insert(format!("p{i}"), by_version);
    }
    Ok(Graph {
        name: format!("deep chain {}", count * versions.len()),
        packs,
    })
}

/// Wide fan-out: `root` (versions `M.m.0`) needs every one of `total / 10 - 1` packs `f_j`
/// with `^M`; each version `M.m.0` of `f_j` needs `f_{j+1}` and one other seeded `f` with
/// `^M.r` (a seeded `r` in 0..5), or `^M.5`, which no version meets, one time in twenty.
fn wide_fan_out(total: usize) -> Result<Graph> {
    let versions = generated_versions();
    let count = (total / versions.len()).saturating_sub(1).max(3);
    let width = u64::try_from(count)?;
    let mut rng = Rng(0xfa_0ff5);
    let mut packs = BTreeMap::new();
    let mut root = BTreeMap::new();
    for version in &versions {
        let deps = (0..count)
            .map(|j| Ok((format!("f{j}"), req(&format!("^{}", version.major))?)))
            .collect::<Result<Deps>>()?;
        root.insert(version.clone(), deps);
    }
    packs.insert("root".to_owned(), root);
    for j in 0..width {
        let mut by_version = BTreeMap::new();
        for version in &versions {
            let other = (j + 2 + rng.below(width - 2)) % width;
            let mut deps = Vec::new();
            for target in [(j + 1) % width, other] {
                let minor = if rng.below(20) == 0 { 5 } else { rng.below(5) };
                deps.push((
                    format!("f{target}"),
                    req(&format!("^{}.{minor}", version.major))?,
                ));
            }
            by_version.insert(version.clone(), deps);
        }
        packs.insert(format!("f{j}"), by_version);
    }
    Ok(Graph {
        name: format!("wide fan-out {}", (count + 1) * versions.len()),
        packs,
    })
}

/// Reads a graph from JSON (`{"pack": {"1.0.0": {"dep": ">=2.0.0, <3.0.0"}}}`). Pack names
/// must be valid pack ids; pre-release versions are dropped (with a note), because the CLI's
/// resolver only offers them when a request names one.
fn read_graph(path: &Path) -> Result<Graph> {
    let text = fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let raw: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> =
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: expected {{\"pack\": {{\"1.0.0\": {{\"dep\": \">=2.0.0, <3.0.0\"}}}}}}",
                path.display()
            )
        })?;
    let valid = |name: &str| {
        PackId::new(name).map_err(|e| {
            anyhow::anyhow!(
                "{}: {name:?} is not a valid pack id (^[a-z][a-z0-9_]{{1,63}}$): {e}",
                path.display()
            )
        })
    };
    let mut packs = BTreeMap::new();
    let mut dropped = 0;
    for (name, versions) in raw {
        valid(&name)?;
        let mut by_version = BTreeMap::new();
        for (version, deps) in versions {
            let version: Version = version
                .parse()
                .with_context(|| format!("{}: {name} version {version:?}", path.display()))?;
            if !version.pre.is_empty() {
                dropped += 1;
                continue;
            }
            let mut list = Vec::new();
            for (dep, text) in deps {
                valid(&dep)?;
                let parsed = text.parse().with_context(|| {
                    format!("{}: {name} {version} needs {dep} {text:?}", path.display())
                })?;
                list.push((dep, parsed));
            }
            by_version.insert(version, list);
        }
        packs.insert(name, by_version);
    }
    if dropped > 0 {
        eprintln!(
            "note: {dropped} pre-release versions dropped from {}",
            path.display()
        );
    }
    Ok(Graph {
        name: format!("file {}", path.display()),
        packs,
    })
}

/// The index records of a graph, signed once at setup: what `modularbase::resolve` reads.
struct Index(HashMap<PackId, Vec<IndexRecord>>);

impl IndexSource for Index {
    fn records(&self, id: &PackId) -> Result<Vec<IndexRecord>> {
        Ok(self.0.get(id).cloned().unwrap_or_default())
    }
}

/// Builds the index: one domain pack record per version, without a base family.
fn index(graph: &Graph) -> Result<Index> {
    let key = SigningKey::from_seed([1; 32]);
    let mut records = HashMap::new();
    for (name, versions) in &graph.packs {
        let id = PackId::new(name)?;
        let mut list = Vec::new();
        for (version, deps) in versions {
            let cksum = Sha256Digest::of(format!("{name}{version}").as_bytes());
            let deps = deps
                .iter()
                .map(|(dep, req)| {
                    Ok(IndexDep {
                        id: PackId::new(dep)?,
                        req: req.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            list.push(IndexRecord {
                sig: key.sign_pack(&id, version, &cksum),
                id: id.clone(),
                vers: version.clone(),
                kind: PackKind::Domain,
                deps,
                base: None,
                base_compat: Vec::new(),
                conflicts: Vec::new(),
                fallback: Vec::new(),
                cksum,
                key: key.public_key(),
                yanked: false,
                size: 1,
            });
        }
        records.insert(id, list);
    }
    Ok(Index(records))
}

/// A root: pack, version, and the request `pack =version` for ours.
type Root = (String, Version, Vec<(PackId, VersionReq)>);

/// The baseline's provider.
type Offline = OfflineDependencyProvider<String, Ranges<Version>>;

/// The set of versions one comparator admits, as cargo reads it (`^1.2` is
/// `>=1.2.0, <2.0.0`, `~1.2` is `>=1.2.0, <1.3.0`, a missing part counts as 0 on the way up).
fn comparator_ranges(c: &Comparator) -> Result<Ranges<Version>> {
    let mut low = Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
    low.pre = c.pre.clone();
    let full = c.minor.is_some() && c.patch.is_some();
    // The first version above everything the given parts name.
    let above = match (c.minor, c.patch) {
        (None, _) => Version::new(c.major + 1, 0, 0),
        (Some(minor), None) => Version::new(c.major, minor + 1, 0),
        (Some(minor), Some(patch)) => Version::new(c.major, minor, patch + 1),
    };
    Ok(match c.op {
        Op::Exact if full => Ranges::singleton(low),
        Op::Exact | Op::Wildcard => Ranges::between(low, above),
        Op::Greater if full => Ranges::strictly_higher_than(low),
        Op::Greater => Ranges::higher_than(above),
        Op::GreaterEq => Ranges::higher_than(low),
        Op::Less => Ranges::strictly_lower_than(low),
        Op::LessEq if full => Ranges::lower_than(low),
        Op::LessEq => Ranges::strictly_lower_than(above),
        Op::Tilde => {
            let upper = match c.minor {
                None => Version::new(c.major + 1, 0, 0),
                Some(minor) => Version::new(c.major, minor + 1, 0),
            };
            Ranges::between(low, upper)
        }
        Op::Caret => {
            let upper = match (c.major, c.minor, c.patch) {
                (0, Some(0), Some(patch)) => Version::new(0, 0, patch + 1),
                (0, Some(minor), _) => Version::new(0, minor + 1, 0),
                (major, _, _) => Version::new(major + 1, 0, 0),
            };
            Ranges::between(low, upper)
        }
        op => bail!("unsupported comparator {op:?}"),
    })
}

/// The set of versions a requirement admits: the intersection of its comparators.
fn req_ranges(req: &VersionReq) -> Result<Ranges<Version>> {
    req.comparators.iter().try_fold(Ranges::full(), |acc, c| {
        Ok(acc.intersection(&comparator_ranges(c)?))
    })
}

/// Builds the baseline's provider, checking on every version of every dependency's pack that
/// the converted range admits exactly what `VersionReq::matches` admits.
fn offline(graph: &Graph) -> Result<Offline> {
    let mut provider = Offline::new();
    for (name, versions) in &graph.packs {
        for (version, deps) in versions {
            let mut ranges = Vec::new();
            for (dep, req) in deps {
                let set = req_ranges(req)?;
                for candidate in graph.packs.get(dep).into_iter().flat_map(BTreeMap::keys) {
                    if set.contains(candidate) != req.matches(candidate) {
                        bail!("range {set} of {dep} {req} disagrees with cargo on {candidate}");
                    }
                }
                ranges.push((dep.clone(), set));
            }
            provider.add_dependencies(name.clone(), version.clone(), ranges);
        }
    }
    Ok(provider)
}

/// Resolves one root with ours: whether it is solvable.
fn ours(index: &Index, request: &[(PackId, VersionReq)]) -> Result<bool> {
    match resolve(index, request, &BTreeMap::new()) {
        Ok(_) => Ok(true),
        Err(ResolveError::NoSolution(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Resolves one root with the baseline: whether it is solvable. A failure is rendered
/// with pubgrub's own reporter, as ours renders its explanation.
fn baseline(provider: &Offline, pack: &str, version: &Version) -> Result<bool> {
    match pubgrub::resolve(provider, pack.to_owned(), version.clone()) {
        Ok(_) => Ok(true),
        Err(PubGrubError::NoSolution(tree)) => {
            black_box(DefaultStringReporter::report(&tree));
            Ok(false)
        }
        Err(e) => bail!("pubgrub on {pack} {version}: {e}"),
    }
}

/// One graph's measurement.
struct Row {
    /// The graph.
    graph: String,
    /// Packs in the graph.
    packs: usize,
    /// Versions in the graph (all of them are candidate roots).
    versions: usize,
    /// Roots resolved per run (fewer than `versions` where sampled).
    roots: usize,
    /// Median ms of resolving every root with ours.
    ours_ms: f64,
    /// Median ms of the same with pubgrub's offline provider.
    baseline_ms: f64,
    /// Roots ours found solvable.
    ours_solvable: usize,
    /// Roots the baseline found solvable.
    baseline_solvable: usize,
    /// Roots on which the two disagree.
    disagree: usize,
}

/// Measures one graph: setup (signing, conversion) untimed, then a checking pass, then
/// `runs` alternating timed passes per side.
fn measure(graph: &Graph, max_roots: usize, runs: usize) -> Result<Row> {
    let index = index(graph)?;
    let provider = offline(graph)?;
    let all: Vec<(&String, &Version)> = graph
        .packs
        .iter()
        .flat_map(|(name, versions)| versions.keys().map(move |v| (name, v)))
        .collect();
    let take = all.len().min(max_roots.max(1));
    let roots: Vec<Root> = (0..take)
        .map(|i| {
            let (name, version) = all[i * all.len() / take];
            let request = vec![(PackId::new(name)?, req(&format!("={version}"))?)];
            Ok((name.clone(), version.clone(), request))
        })
        .collect::<Result<_>>()?;

    let (mut ours_solvable, mut baseline_solvable, mut disagree) = (0, 0, 0);
    for (name, version, request) in &roots {
        let (a, b) = (ours(&index, request)?, baseline(&provider, name, version)?);
        ours_solvable += usize::from(a);
        baseline_solvable += usize::from(b);
        if a != b {
            if disagree == 0 {
                eprintln!(
                    "warning: {}: root {name} {version} is {} for ours, {} for pubgrub",
                    graph.name,
                    if a { "solvable" } else { "unsolvable" },
                    if b { "solvable" } else { "unsolvable" },
                );
            }
            disagree += 1;
        }
    }

    let (ours_ms, baseline_ms) = alternate(runs, |is_ours| {
        millis(|| {
            let mut solvable = 0usize;
            for (name, version, request) in &roots {
                let ok = if is_ours {
                    ours(&index, request)?
                } else {
                    baseline(&provider, name, version)?
                };
                solvable += usize::from(ok);
            }
            Ok(solvable)
        })
    })?;
    Ok(Row {
        graph: graph.name.clone(),
        packs: graph.packs.len(),
        versions: graph.versions(),
        roots: roots.len(),
        ours_ms,
        baseline_ms,
        ours_solvable,
        baseline_solvable,
        disagree,
    })
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    let runs = options
        .runs
        .unwrap_or(if options.quick { 3 } else { 5 })
        .max(1);
    let sizes = match (options.sizes.is_empty(), options.quick) {
        (false, _) => options.sizes.clone(),
        (true, true) => vec![200, 2_000],
        (true, false) => vec![1_000, 10_000],
    };
    let mut graphs = Vec::new();
    for size in sizes {
        graphs.push(deep_chain(size)?);
        graphs.push(wide_fan_out(size)?);
    }
    if let Some(path) = &options.graph {
        graphs.push(read_graph(path)?);
    }

    let before = load_average();
    println!("machine: {}", machine());
    println!("load average before: {before}");
    println!(
        "{runs} runs per side (median), at most {} roots per graph (evenly spaced when sampled)",
        options.max_roots
    );
    let mut rows = Vec::new();
    for graph in &graphs {
        eprintln!("measuring {} ...", graph.name);
        rows.push(measure(graph, options.max_roots, runs)?);
    }
    let after = load_average();

    println!(
        "{:<22} {:>6} {:>8} {:>6} {:>11} {:>13} {:>7} {:>17}",
        "graph", "packs", "versions", "roots", "ours ms", "pubgrub ms", "ratio", "solvable ours/pg"
    );
    for r in &rows {
        println!(
            "{:<22} {:>6} {:>8} {:>6} {:>11.1} {:>13.1} {:>7.2} {:>17}",
            r.graph,
            r.packs,
            r.versions,
            r.roots,
            r.ours_ms,
            r.baseline_ms,
            r.ours_ms / r.baseline_ms,
            format!("{}/{}", r.ours_solvable, r.baseline_solvable),
        );
        if r.roots < r.versions {
            println!("  (sampled: {} of {} roots)", r.roots, r.versions);
        }
        if r.disagree > 0 {
            println!(
                "  WARNING: ours and pubgrub disagree on {} roots",
                r.disagree
            );
        }
    }
    println!("load average after: {after}");

    let Some(path) = &options.json else {
        return Ok(());
    };
    let json_rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "graph": r.graph,
                "packs": r.packs,
                "versions": r.versions,
                "roots": r.roots,
                "sampled": r.roots < r.versions,
                "ours_ms": r.ours_ms,
                "pubgrub_offline_ms": r.baseline_ms,
                "ratio": r.ours_ms / r.baseline_ms,
                "ours_solvable": r.ours_solvable,
                "pubgrub_solvable": r.baseline_solvable,
                "disagree": r.disagree,
            })
        })
        .collect();
    let json = serde_json::json!({
        "machine": machine(),
        "load_before": before,
        "load_after": after,
        "runs": runs,
        "max_roots": options.max_roots,
        "rows": json_rows,
    });
    modularbase_bench::measure::write_json(path, &json)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few requirements by hand: the converted ranges admit what cargo admits.
    #[test]
    fn ranges_match_cargo_by_hand() -> Result<()> {
        for (text, inside, outside) in [
            ("^1.2", "1.9.0", "2.0.0"),
            ("^0.2", "0.2.5", "0.3.0"),
            ("^0.0.3", "0.0.3", "0.0.4"),
            (">=2.0.0, <3.0.0", "2.4.0", "3.0.0"),
            ("~1.2", "1.2.7", "1.3.0"),
            ("=1.4.0", "1.4.0", "1.4.1"),
            (">=1.5", "2.0.0", "1.4.0"),
            ("<=1.2", "1.2.9", "1.3.0"),
        ] {
            let parsed: VersionReq = text.parse()?;
            let set = req_ranges(&parsed)?;
            let (inside, outside): (Version, Version) = (inside.parse()?, outside.parse()?);
            assert!(
                set.contains(&inside) && parsed.matches(&inside),
                "{text} {inside}"
            );
            assert!(
                !set.contains(&outside) && !parsed.matches(&outside),
                "{text} {outside}"
            );
        }
        Ok(())
    }
}
