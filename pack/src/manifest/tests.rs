use super::*;

#[test]
fn base_compat_admits_its_minor_series_only() {
    let compat: BaseCompat = "1.2".parse().unwrap();
    assert_eq!(
        (compat.lower(), compat.upper()),
        (Version::new(1, 2, 0), Version::new(1, 3, 0))
    );
    for (version, admitted) in [
        ("1.2.0", true),
        ("1.2.99", true),
        ("1.3.0", false),
        ("1.1.9", false),
        ("2.2.0", false),
        ("1.2.1-rc.1", false),
    ] {
        assert_eq!(
            compat.admits(&version.parse().unwrap()),
            admitted,
            "{version}"
        );
    }
    assert_eq!(compat.to_string(), "1.2");
    assert_eq!(
        "0.0".parse::<BaseCompat>().unwrap(),
        BaseCompat { major: 0, minor: 0 }
    );
}

#[test]
fn canonical_text_parses_back_to_the_same_manifest() {
    let text = "[pack]\nid = \"medical\"\nversion = \"2.1.0-beta.1\"\nname = \"Medical QA\"\nkind = \"domain\"\ndomain = \"medical\"\nbase = \"tiny_base\"\nbase_compatibility = [\"1.0\"]\n\n[model]\nhidden = 256\nwidth = 128\nexperts = 8\ntop_k = 2\ninsertion_layer = 2\nexpert_format = \"q8_0\"\n";
    let manifest = Manifest::from_toml_str(text, Path::new("pack.toml")).unwrap();
    assert_eq!(
        manifest.model.as_ref().and_then(|m| m.expert_format),
        Some(ExpertFormat::Q8_0)
    );
    let written = manifest.to_toml_string();
    assert_eq!(
        Manifest::from_toml_str(&written, Path::new("pack.toml")).unwrap(),
        manifest
    );
    assert!(
        written.starts_with("[pack]\nid = \"medical\"\n"),
        "{written}"
    );
    assert!(manifest.supports_base(&Version::new(1, 0, 3)));
    assert!(!manifest.supports_base(&Version::new(1, 1, 0)));
}
