//! Hostile weights are refused everywhere a pack passes: at `pack build`, at the registry's
//! publish and at `run`, each time with the words of the check that failed, nothing
//! written, and the refusing process under 64 MB at its peak (the OS's figure).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use modularbase_tests::{
    Pack, TestRegistry, hostile_weights, modularbase_bin, refusal, run_measuring_peak_rss,
};

/// Peak memory allowed to a process (or a server's growth) while it refuses one file.
const PEAK_LIMIT: u64 = 64 << 20;

fn cli(home: &Path, args: &[&str]) -> (Output, u64) {
    let mut command = Command::new(modularbase_bin());
    command
        .args(args)
        .env("MODULARBASE_HOME", home)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1");
    run_measuring_peak_rss(&command)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn hostile_pack(weights: Vec<u8>) -> Pack {
    Pack::domain("hostile", "1.0.0").weights(weights)
}

#[test]
fn pack_build_refuses_hostile_weights_and_writes_no_archive() {
    let home = tempfile::tempdir().unwrap();
    for case in hostile_weights() {
        let dir = tempfile::tempdir().unwrap();
        hostile_pack(case.bytes.clone())
            .write_to(dir.path())
            .unwrap();
        let path = dir.path().to_str().unwrap();
        let (output, peak) = cli(home.path(), &["pack", "build", "--path", path]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{}: {text}", case.name);
        assert!(
            text.contains("`weights.gguf`") && text.contains(&case.message),
            "{}: {text}",
            case.name
        );
        assert!(!text.contains("stack backtrace"), "{}: {text}", case.name);
        let target = dir.path().join("target");
        let left: Vec<_> = std::fs::read_dir(&target)
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{}: left {left:?}", case.name);
        assert!(peak < PEAK_LIMIT, "{}: peak {peak} bytes", case.name);
    }
}

/// The server's peak resident set so far (`VmHWM`), in bytes.
fn server_peak(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn the_registry_refuses_hostile_weights_at_publish() {
    let (registry, ada) = TestRegistry::with_base();
    let before = server_peak(registry.pid());
    for case in hostile_weights() {
        let pack = hostile_pack(case.bytes.clone());
        let (status, message) = refusal(ada.send(ada.prepare_unchecked(&pack).body()));
        assert_eq!(status, 400, "{}: {message}", case.name);
        assert!(
            message.contains("the archive is refused: `weights.gguf`")
                && message.contains(&case.message),
            "{}: {message}",
            case.name
        );
    }
    assert!(
        registry.index("hostile").is_empty(),
        "nothing was published"
    );
    let growth = server_peak(registry.pid()).saturating_sub(before);
    assert!(growth < PEAK_LIMIT, "the registry grew by {growth} bytes");
    // The same pack with valid weights is accepted: the refusals were the weights' alone.
    ada.publish_ok(&Pack::domain("hostile", "1.0.0"));
}

#[test]
fn the_registry_refuses_a_pack_that_does_not_fit_a_compatible_base() {
    let (registry, ada) = TestRegistry::with_base();
    let wide = modularbase_pack::weights::sample_weights(
        &modularbase_pack::WeightsShape::Domain(modularbase_pack::DomainShape {
            hidden: 64,
            ..modularbase_pack::DomainShape {
                width: 8,
                experts: 1,
                top_k: 1,
                expert_ffn: 8,
                expert_format: modularbase_pack::ExpertFormat::F16,
                ..modularbase_pack::DomainShape::for_base(64, 0)
            }
        }),
        b"wide",
    );
    let (status, message) = refusal(ada.publish(&Pack::domain("wide", "1.0.0").weights(wide)));
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains(
            "`wide` does not fit base `tiny_base` 1.0.0, which its base_compatibility admits: the pack expects a base of width 64, the base has 32"
        ),
        "{message}"
    );
    assert!(registry.index("wide").is_empty());
}

/// A fresh `tiny_base` 1.0.0 from `base init`, in `work/base`.
fn init_base(home: &Path, work: &Path) -> std::path::PathBuf {
    let base = work.join("base");
    let out = base.to_str().unwrap();
    let args = [
        "base",
        "init",
        "--id",
        "tiny_base",
        "--version",
        "1.0.0",
        "--out",
        out,
    ];
    let (init, _) = cli(home, &args);
    assert!(init.status.success(), "{}", stderr(&init));
    base
}

#[test]
fn run_refuses_hostile_weights_without_failing_other_prompts() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let base = init_base(home.path(), work.path());
    let base_arg = base.to_str().unwrap();
    for case in hostile_weights() {
        let dir = work
            .path()
            .join(format!("hostile-{}", case.name.replace(' ', "-")));
        hostile_pack(case.bytes.clone()).write_to(&dir).unwrap();
        let pack = dir.to_str().unwrap();
        let run = |extra: &[&str]| {
            let mut args = vec!["run", "def f():", "--base", base_arg, "--pack", pack];
            args.extend(["--max-tokens", "2", "--temperature", "0", "--device", "cpu"]);
            args.extend(extra);
            cli(home.path(), &args)
        };

        // Routed: the pack is left out with its cause; the prompt is answered.
        let (routed, _) = run(&[]);
        let text = stderr(&routed);
        assert_eq!(routed.status.code(), Some(0), "{}: {text}", case.name);
        assert!(
            text.contains("warning: pack `hostile` is not routed to:")
                && text.contains(&case.message),
            "{}: {text}",
            case.name
        );

        // Forced: an error with the cause, under 64 MB, no backtrace.
        let (forced, peak) = run(&["--pack", "hostile"]);
        let text = stderr(&forced);
        assert_eq!(forced.status.code(), Some(1), "{}: {text}", case.name);
        assert!(
            text.contains("pack `hostile` cannot be used: its weights are unreadable:")
                && text.contains(&case.message)
                && text.contains("--allow-fallback"),
            "{}: {text}",
            case.name
        );
        assert!(!text.contains("stack backtrace"), "{}: {text}", case.name);
        assert!(
            forced.stdout.is_empty(),
            "{}: nothing is answered",
            case.name
        );
        assert!(peak < PEAK_LIMIT, "{}: peak {peak} bytes", case.name);

        // Forced, with fallback allowed: answered by the base, with the warning.
        let (fallback, _) = run(&["--pack", "hostile", "--allow-fallback"]);
        let text = stderr(&fallback);
        assert_eq!(fallback.status.code(), Some(0), "{}: {text}", case.name);
        assert!(
            text.contains("warning: pack `hostile` was not used: its weights are unreadable:"),
            "{}: {text}",
            case.name
        );
    }
}

#[test]
fn run_with_a_pack_that_is_not_installed_names_the_installed_ones() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let base = init_base(home.path(), work.path());
    let base_arg = base.to_str().unwrap();
    let pack = work.path().join("python_code");
    Pack::domain("python_code", "1.0.0")
        .write_to(&pack)
        .unwrap();
    let (output, _) = cli(
        home.path(),
        &[
            "run",
            "hello",
            "--base",
            base_arg,
            "--pack",
            pack.to_str().unwrap(),
            "--pack",
            "no_such_pack",
            "--device",
            "cpu",
        ],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "`--pack no_such_pack`: no pack `no_such_pack` is installed (installed: `python_code`)"
        ),
        "{text}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn an_install_unpack_refuses_hostile_weights_and_leaves_no_directory() {
    let home = tempfile::tempdir().unwrap();
    let expected = modularbase_pack::PackRef {
        id: "hostile".parse().unwrap(),
        version: "1.0.0".parse().unwrap(),
    };
    for case in hostile_weights() {
        let archive = hostile_pack(case.bytes.clone()).unchecked_archive();
        let target = home.path().join("packs/hostile/1.0.0");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let error = modularbase_pack::unpack_archive(
            archive.as_slice(),
            &target,
            &modularbase_pack::ArchiveLimits::default(),
            &expected,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains(&case.message), "{}: {error}", case.name);
        let left: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{}: left {left:?}", case.name);
    }
}
