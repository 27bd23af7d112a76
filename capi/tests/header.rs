//! `include/matpac.h` is what cbindgen generates from `src/lib.rs` with `cbindgen.toml`:
//! this test regenerates it and fails if the checked-in file differs (CI runs it).
//! `MATPAC_BLESS=1 cargo test -p matpac-capi --test header` rewrites the file.

use std::path::Path;

#[test]
fn header_matches_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = dir.join("include/matpac.h");
    if std::env::var_os("MATPAC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/matpac.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if let Some((line, (want, have))) = generated
        .lines()
        .zip(checked_in.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "capi/include/matpac.h is stale at line {}: expected `{want}`, found `{have}` \
             (regenerate: MATPAC_BLESS=1 cargo test -p matpac-capi --test header)",
            line + 1
        );
    }
    assert_eq!(
        generated.lines().count(),
        checked_in.lines().count(),
        "capi/include/matpac.h is stale: line counts differ \
         (regenerate: MATPAC_BLESS=1 cargo test -p matpac-capi --test header)"
    );
}
