//! Integrity under concurrency and crashes: one winner per version, acknowledged
//! publishes survive `kill -9`, interrupted publishes leave at most an unreferenced file
//! that `registry gc` removes, and no indexed version ever lacks its archive.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use modularbase_pack::Sha256Digest;
use modularbase_tests::{Pack, TestRegistry, blob_path};

/// Every indexed version downloads and hashes to its checksum.
fn assert_every_indexed_version_is_whole(registry: &TestRegistry, id: &str) -> usize {
    let records = registry.index(id);
    for record in &records {
        let download = registry.get(&format!("/api/v1/packs/{id}/{}/download", record.vers));
        assert_eq!(
            download.status(),
            200,
            "{id}@{} is indexed but not downloadable",
            record.vers
        );
        let bytes = download.bytes().unwrap();
        assert_eq!(
            Sha256Digest::of(&bytes),
            record.cksum,
            "{id}@{} archive does not match the index",
            record.vers
        );
    }
    records.len()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path)
            } else {
                out.push(path)
            }
        }
    }
    out
}

#[test]
fn concurrent_publishes_of_one_version_have_exactly_one_winner() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    const N: usize = 8;
    let uploads: Vec<_> = (0..N)
        .map(|i| {
            ada.prepare(&Pack::domain("reasoning", "1.0.0").description(&format!("variant {i}")))
        })
        .collect();
    let barrier = Arc::new(Barrier::new(N));
    let results = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for upload in &uploads {
            let (barrier, results, ada) = (barrier.clone(), results.clone(), ada.clone());
            scope.spawn(move || {
                let body = upload.body();
                barrier.wait();
                let status = ada.send(body).status().as_u16();
                results
                    .lock()
                    .unwrap()
                    .push((status, upload.metadata.cksum));
            });
        }
    });
    let results = results.lock().unwrap();
    let winners: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|(s, _)| *s == 200 || *s == 409),
        "{results:?}"
    );
    let records = registry.index("reasoning");
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].cksum, winners[0].1,
        "the index must hold the winner's archive"
    );
    assert_every_indexed_version_is_whole(&registry, "reasoning");
}

#[test]
fn data_survives_a_clean_restart() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let before = registry.get("/index/reasoning").text().unwrap();
    let (status, _log, data, dir) = registry.terminate();
    assert!(
        status.success(),
        "SIGTERM must end the server cleanly: {status:?}"
    );

    let restarted = TestRegistry::start_on(data, &[]);
    assert_eq!(restarted.get("/index/reasoning").text().unwrap(), before);
    assert_every_indexed_version_is_whole(&restarted, "reasoning");
    // The same token and key still work after the restart.
    let ada_again = ada.clone_for(&restarted.url);
    ada_again.publish_ok(&Pack::domain("reasoning", "1.1.0"));
    drop(dir);
}

#[test]
fn acknowledged_publishes_survive_kill_9_at_random_moments() {
    let mut registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    let mut acknowledged: Vec<String> = Vec::new();
    let mut keep_dir = None;
    let mut next = 0u32;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _round in 0..5 {
        let publisher = ada.clone_for(&registry.url);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let worker = {
            let (stop, acked) = (stop.clone(), acked.clone());
            let first = next;
            std::thread::spawn(move || {
                let mut n = first;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let version = format!("1.0.{n}");
                    let upload = publisher.prepare(&Pack::domain("reasoning", &version));
                    match publisher.try_send(upload.body()) {
                        Some(200) => acked.lock().unwrap().push(version),
                        _ => break,
                    }
                    n += 1;
                }
                n
            })
        };
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(50 + seed % 400));
        let (data, dir) = registry.kill9();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        next = worker.join().unwrap() + 1;
        acknowledged.extend(acked.lock().unwrap().iter().cloned());
        keep_dir = keep_dir.or(dir);
        registry = TestRegistry::start_on(data, &[]);
        let indexed: Vec<String> = registry
            .index("reasoning")
            .iter()
            .map(|r| r.vers.to_string())
            .collect();
        for version in &acknowledged {
            assert!(
                indexed.contains(version),
                "acknowledged {version} lost after kill -9; index has {indexed:?}"
            );
        }
        assert_every_indexed_version_is_whole(&registry, "reasoning");
    }
    assert!(
        acknowledged.len() >= 5,
        "too few publishes to mean anything: {acknowledged:?}"
    );
    eprintln!(
        "{} publishes acknowledged across the kills",
        acknowledged.len()
    );
}

#[test]
fn a_publish_killed_mid_upload_leaves_only_garbage_that_gc_removes() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    let data: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let weights = modularbase_tests::synthetic_weights("domain", &data);
    let body = ada
        .prepare(&Pack::domain("reasoning", "1.0.0").weights(weights))
        .body();

    // Send the headers and half the body, then kill the server while it waits for the rest.
    let address = registry.url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "PUT /api/v1/packs/new HTTP/1.1\r\nHost: {address}\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        ada.token,
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    stream.flush().unwrap();
    let tmp = registry.data.join("tmp");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while files_under(&tmp).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never reached the disk"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (data, dir) = registry.kill9();
    drop(stream);

    let restarted = TestRegistry::start_on(data.clone(), &[]);
    assert!(
        restarted.index("reasoning").is_empty(),
        "an unacknowledged publish must not be visible"
    );
    assert_eq!(
        files_under(&tmp).len(),
        1,
        "the partial upload is the only trace"
    );
    // A blob written just before a crash, whose transaction never committed.
    let orphan = Sha256Digest::of(b"orphan archive");
    let orphan_path = blob_path(&data, &orphan);
    std::fs::create_dir_all(orphan_path.parent().unwrap()).unwrap();
    std::fs::write(&orphan_path, b"orphan archive").unwrap();

    let young = restarted.admin(&["gc"]);
    assert!(young.status.success());
    assert!(
        orphan_path.exists(),
        "gc must spare young files (a publish may be in flight)"
    );
    let out = restarted.admin(&["gc", "--grace-seconds", "0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("removed 1 unreferenced archive(s) (14 bytes) and 1 stale upload(s)"),
        "{stdout}"
    );
    assert!(!orphan_path.exists());
    assert!(files_under(&tmp).is_empty());
    assert_every_indexed_version_is_whole(&restarted, "tiny_base");
    drop(dir);
}

#[test]
fn sigterm_lets_an_in_flight_publish_finish() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    let body = ada.prepare(&Pack::domain("reasoning", "1.0.0")).body();
    let address = registry.url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "PUT /api/v1/packs/new HTTP/1.1\r\nHost: {address}\r\nAuthorization: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        ada.token,
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let pid = registry.pid().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(&body[body.len() / 2..]).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "the in-flight publish must complete: {response}"
    );

    let (status, _log, data, dir) = registry.terminate_waiting();
    assert!(status.success(), "{status:?}");
    let restarted = TestRegistry::start_on(data, &[]);
    assert_eq!(
        assert_every_indexed_version_is_whole(&restarted, "reasoning"),
        1
    );
    drop(dir);
}

#[test]
fn download_counts_are_saved_when_the_server_stops() {
    let (registry, _ada) = TestRegistry::with_base();
    for _ in 0..3 {
        assert_eq!(
            registry
                .get("/api/v1/packs/tiny_base/1.0.0/download")
                .status(),
            200
        );
    }
    let (status, _log, data, dir) = registry.terminate();
    assert!(status.success());
    let restarted = TestRegistry::start_on(data, &[]);
    let details: modularbase_pack::PackDetails =
        restarted.get("/api/v1/packs/tiny_base").json().unwrap();
    assert_eq!(details.downloads, 3);
    assert_eq!(details.versions[0].downloads, 3);
    drop(dir);
}
