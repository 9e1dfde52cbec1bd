//! The committed embedded registry is exactly what the pinned IANA XML (from `../shared`)
//! and the pinned netbase package generate.

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn embedded_registry_has_not_drifted() {
    let Some(path) = portreg_testing::shared("data/iana/newest/service-names-port-numbers.xml")
    else {
        return;
    };
    let iana = xtask::iana_from_file(&path).unwrap();
    assert_eq!(
        iana.sha256(),
        xtask::PINNED_IANA_SHA256,
        "{} is not the pinned file",
        path.display()
    );
    assert_eq!(iana.sha256(), portreg_data::IANA_SHA256);
    let work = std::env::temp_dir().join(format!("portreg-drift-{}", std::process::id()));
    let generated = xtask::generate_from(&iana, &work);
    let _ = std::fs::remove_dir_all(&work);
    let generated = match generated {
        Ok(generated) => generated,
        Err(error) if std::env::var("PORTREG_REQUIRE_PACKAGES").is_ok_and(|v| v == "1") => {
            panic!("PORTREG_REQUIRE_PACKAGES=1 but netbase cannot be fetched: {error:#}")
        }
        Err(error) => {
            eprintln!("skipped: the netbase package cannot be fetched here ({error:#})");
            return;
        }
    };
    let dir = xtask::data_crate();
    let committed = std::fs::read(dir.join("data/registry.bin")).unwrap();
    assert!(
        committed == generated.registry,
        "data/registry.bin has drifted: run `cargo xtask gen-data --iana {}`",
        path.display()
    );
    let rust = std::fs::read_to_string(dir.join("src/generated.rs")).unwrap();
    assert_eq!(
        rust, generated.rust,
        "src/generated.rs has drifted: run `cargo xtask gen-data`"
    );
}
