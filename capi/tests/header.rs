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

/// The header compiles as C11 with the host's C compiler (`cc`, which Rust already needs
/// to link on Linux), and C sees the same sizes and alignments as Rust for every shared
/// type (the 64-bit branch of the header; the QEMU example compiles the 32-bit one).
#[test]
fn header_compiles_with_the_rust_layouts() {
    use matpac_capi::{MatpacEvent, MatpacInfo, MatpacTagger};
    use std::mem::{align_of, size_of};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checks = [
        (
            "matpac_tagger",
            size_of::<MatpacTagger>(),
            align_of::<MatpacTagger>(),
        ),
        (
            "matpac_event",
            size_of::<MatpacEvent>(),
            align_of::<MatpacEvent>(),
        ),
        (
            "matpac_info",
            size_of::<MatpacInfo>(),
            align_of::<MatpacInfo>(),
        ),
        (
            "matpac_status",
            size_of::<matpac_capi::MatpacStatus>(),
            align_of::<matpac_capi::MatpacStatus>(),
        ),
    ];
    let mut source = String::from("#include \"matpac.h\"\n");
    for (ty, size, align) in checks {
        source += &format!(
            "_Static_assert(sizeof({ty}) == {size}, \"sizeof {ty}\");\n\
             _Static_assert(_Alignof({ty}) == {align}, \"alignof {ty}\");\n"
        );
    }
    let out = std::env::temp_dir().join(format!("matpac-header-{}.c", std::process::id()));
    std::fs::write(&out, source).expect("write the C file");
    let result = std::process::Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            "-I",
        ])
        .arg(dir.join("include"))
        .arg(&out)
        .output()
        .expect("run cc");
    let _ = std::fs::remove_file(&out);
    assert!(
        result.status.success(),
        "cc rejects include/matpac.h or its layouts differ from Rust's:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
}
